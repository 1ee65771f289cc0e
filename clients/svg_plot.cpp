#include "clients/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace shirg::clients {

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A "nice" step (1, 2, 5 x 10^k) giving about n ticks over [0, hi].
double nice_step(double hi, int n) {
  const double raw = hi / n;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

}  // namespace

std::string latency_svg(const std::vector<LevelResult>& all, const std::string& title) {
  if (all.empty()) throw std::invalid_argument("nothing to plot");
  std::vector<LevelResult> levels;
  for (const LevelResult& r : all) {
    if (r.mode == all.front().mode) levels.push_back(r);
  }
  std::sort(levels.begin(), levels.end(),
            [](const LevelResult& a, const LevelResult& b) { return a.level < b.level; });
  const bool closed = levels.front().mode == "closed";
  const double W = 720, H = 440, L = 80, R = 170, T = 50, B = 60;
  const double pw = W - L - R, ph = H - T - B;
  double xmax = 0, ymax = 0;
  for (const LevelResult& r : levels) {
    xmax = std::max(xmax, r.level);
    ymax = std::max({ymax, r.latency_ms.p99, r.latency_ms.mean});
  }
  if (xmax <= 0) xmax = 1;
  if (ymax <= 0) ymax = 1;
  const double ystep = nice_step(ymax, 5);
  ymax = std::ceil(ymax / ystep) * ystep;
  const double xstep = nice_step(xmax, 8);
  xmax = std::ceil(xmax / xstep) * xstep;
  auto X = [&](double v) { return L + pw * v / xmax; };
  auto Y = [&](double v) { return T + ph * (1 - v / ymax); };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">"
    << xml_escape(title) << "</text>\n";
  for (double y = 0; y <= ymax + 1e-9; y += ystep) {  // horizontal grid + y labels
    o << "<line x1=\"" << L << "\" y1=\"" << num(Y(y)) << "\" x2=\"" << L + pw << "\" y2=\""
      << num(Y(y)) << "\" stroke=\"#ddd\"/>\n";
    o << "<text x=\"" << L - 8 << "\" y=\"" << num(Y(y) + 4) << "\" text-anchor=\"end\">"
      << label(y) << "</text>\n";
  }
  for (double x = 0; x <= xmax + 1e-9; x += xstep) {  // x ticks
    o << "<line x1=\"" << num(X(x)) << "\" y1=\"" << T + ph << "\" x2=\"" << num(X(x)) << "\" y2=\""
      << T + ph + 5 << "\" stroke=\"black\"/>\n";
    o << "<text x=\"" << num(X(x)) << "\" y=\"" << T + ph + 20 << "\" text-anchor=\"middle\">"
      << label(x) << "</text>\n";
  }
  o << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << T + ph
    << "\" stroke=\"black\"/>\n";
  o << "<line x1=\"" << L << "\" y1=\"" << T + ph << "\" x2=\"" << L + pw << "\" y2=\"" << T + ph
    << "\" stroke=\"black\"/>\n";
  o << "<text x=\"" << L + pw / 2 << "\" y=\"" << H - 15 << "\" text-anchor=\"middle\">"
    << (closed ? "concurrency (closed loop)" : "offered load, requests/s (open loop, Poisson)")
    << "</text>\n";
  o << "<text transform=\"translate(20," << T + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\">latency (ms)</text>\n";

  struct Series {
    const char* name;
    const char* color;
    double Summary::*field;
  };
  const Series series[] = {{"p99", "#d62728", &Summary::p99},
                           {"p90", "#ff7f0e", &Summary::p90},
                           {"p50", "#1f77b4", &Summary::p50},
                           {"mean", "#2ca02c", &Summary::mean}};
  int row = 0;
  for (const Series& s : series) {
    o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\" points=\"";
    for (const LevelResult& r : levels) {
      o << num(X(r.level)) << "," << num(Y(r.latency_ms.*s.field)) << " ";
    }
    o << "\"/>\n";
    for (const LevelResult& r : levels) {
      o << "<circle cx=\"" << num(X(r.level)) << "\" cy=\"" << num(Y(r.latency_ms.*s.field))
        << "\" r=\"3\" fill=\"" << s.color << "\"><title>" << s.name << " "
        << num(r.latency_ms.*s.field) << " ms at " << label(r.level) << "</title></circle>\n";
    }
    const double ly = T + 10 + 20 * row++;
    o << "<line x1=\"" << L + pw + 20 << "\" y1=\"" << ly << "\" x2=\"" << L + pw + 45 << "\" y2=\""
      << ly << "\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>\n";
    o << "<text x=\"" << L + pw + 52 << "\" y=\"" << ly + 4 << "\">" << s.name
      << " latency</text>\n";
  }
  double ty = T + 10 + 20 * row + 15;
  o << "<text x=\"" << L + pw + 20 << "\" y=\"" << ty
    << "\" font-weight=\"bold\">throughput</text>\n";
  for (const LevelResult& r : levels) {
    ty += 16;
    o << "<text x=\"" << L + pw + 20 << "\" y=\"" << ty << "\">" << label(r.level) << ": "
      << label(std::round(r.throughput_rps * 1000) / 1000) << " req/s</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string scatter_svg(const std::string& title, const std::vector<ScatterPanel>& panels) {
  if (panels.empty()) throw std::invalid_argument("nothing to plot");
  const double PW = 460, H = 440, L = 70, R = 30, T = 70, B = 60;
  const double pw = PW - L - R, ph = H - T - B, W = PW * panels.size();
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">"
    << xml_escape(title) << "</text>\n";
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const ScatterPanel& pan = panels[p];
    if (pan.points.empty()) throw std::invalid_argument("panel '" + pan.title + "' has no point");
    const double x0 = PW * p + L;
    double xmax = 0, ymax = pan.y_max;
    for (const ScatterPoint& q : pan.points) {
      xmax = std::max(xmax, q.x);
      if (pan.y_max <= 0) ymax = std::max(ymax, q.y);
    }
    if (xmax <= 0) xmax = 1;
    if (ymax <= 0) ymax = 1;
    const double xstep = nice_step(xmax, 5), ystep = nice_step(ymax, 5);
    xmax = std::ceil(xmax * 1.05 / xstep) * xstep;  // room for the labels right of the points
    ymax = std::ceil(ymax / ystep - 1e-9) * ystep;
    auto X = [&](double v) { return x0 + pw * v / xmax; };
    auto Y = [&](double v) { return T + ph * (1 - v / ymax); };
    o << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << T - 16 << "\" text-anchor=\"middle\" "
      << "font-size=\"14\">" << xml_escape(pan.title) << "</text>\n";
    for (double y = 0; y <= ymax + 1e-9; y += ystep) {
      o << "<line x1=\"" << x0 << "\" y1=\"" << num(Y(y)) << "\" x2=\"" << x0 + pw << "\" y2=\""
        << num(Y(y)) << "\" stroke=\"#ddd\"/>\n";
      o << "<text x=\"" << x0 - 8 << "\" y=\"" << num(Y(y) + 4) << "\" text-anchor=\"end\">"
        << label(y) << "</text>\n";
    }
    for (double x = 0; x <= xmax + 1e-9; x += xstep) {
      o << "<line x1=\"" << num(X(x)) << "\" y1=\"" << T + ph << "\" x2=\"" << num(X(x))
        << "\" y2=\"" << T + ph + 5 << "\" stroke=\"black\"/>\n";
      o << "<text x=\"" << num(X(x)) << "\" y=\"" << T + ph + 20 << "\" text-anchor=\"middle\">"
        << label(x) << "</text>\n";
    }
    o << "<polyline fill=\"none\" stroke=\"black\" points=\"" << x0 << "," << T << " " << x0 << ","
      << T + ph << " " << x0 + pw << "," << T + ph << "\"/>\n";
    o << "<text x=\"" << x0 + pw / 2 << "\" y=\"" << H - 15 << "\" text-anchor=\"middle\">"
      << xml_escape(pan.x_label) << "</text>\n";
    o << "<text transform=\"translate(" << x0 - 50 << "," << T + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(pan.y_label) << "</text>\n";
    for (std::size_t i = 0; i < pan.points.size(); ++i) {
      const ScatterPoint& q = pan.points[i];
      const char* c = colors[i % (sizeof colors / sizeof colors[0])];
      o << "<circle cx=\"" << num(X(q.x)) << "\" cy=\"" << num(Y(q.y)) << "\" r=\"4\" fill=\"" << c
        << "\"><title>" << xml_escape(q.label) << ": " << label(q.x) << ", " << label(q.y)
        << "</title></circle>\n";
      // Labels of points drawn at (nearly) the same place stack upwards instead of overlapping.
      int stacked = 0;
      for (std::size_t k = 0; k < i; ++k) {
        const ScatterPoint& e = pan.points[k];
        stacked += std::fabs(X(e.x) - X(q.x)) < 30 && std::fabs(Y(e.y) - Y(q.y)) < 8;
      }
      o << "<text x=\"" << num(X(q.x) + 6) << "\" y=\"" << num(Y(q.y) - 6 - 11 * stacked)
        << "\" fill=\"" << c << "\" font-size=\"10\">" << xml_escape(q.label) << "</text>\n";
    }
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace shirg::clients

// bench_http_edge: the OpenAI HTTP API of a running shirg-server under hostile clients
// (docs/server.md "HTTP transport limits"; bench/http_edge.sh starts the server and runs it).
//
//   bench_http_edge hostile --port P --pid PID [--token T]
//     one hostile request per row, each on a new connection: the server's resident memory
//     (VmRSS of PID) before, its peak growth while the request is sent and answered (sampled
//     every 5 ms), its growth 2 s after, and what the client got.
//   bench_http_edge slow --port P --metrics-port M --slots N [--slow 64] [--probes 100]
//     64 slow clients each holding a connection (a request head sent one byte a second, reopened
//     when the server closes it), N long chat requests occupying every inference slot, then
//     100 GET /health probes (latency p50 / p99 / max), a new chat request (time until it is
//     queued or refused with 429), and a count of the long requests that got no answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double secs_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends what it can within `until`; false when the peer closed/reset or an answer arrived
// (readable), which stops a hostile sender early.
bool send_all(int fd, const char* p, std::size_t n, Clock::time_point until) {
  std::size_t off = 0;
  while (off < n) {
    pollfd pf{fd, POLLOUT | POLLIN, 0};
    const int left = static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count()));
    if (left == 0 || ::poll(&pf, 1, left) <= 0) return false;
    if (pf.revents & (POLLIN | POLLERR | POLLHUP)) return false;
    const ssize_t k = ::send(fd, p + off, std::min<std::size_t>(n - off, 1 << 20), MSG_NOSIGNAL);
    if (k <= 0) return false;
    off += static_cast<std::size_t>(k);
  }
  return true;
}

// The status of the first final response read within `timeout` (0: closed, -1: timeout).
int read_status(int fd, std::chrono::milliseconds timeout, std::string* body = nullptr) {
  const auto until = Clock::now() + timeout;
  std::string buf;
  for (;;) {
    // Skip interim responses.
    while (buf.rfind("HTTP/1.1 1", 0) == 0 && buf.find("\r\n\r\n") != std::string::npos)
      buf.erase(0, buf.find("\r\n\r\n") + 4);
    const std::size_t end = buf.find("\r\n\r\n");
    if (end != std::string::npos && buf.size() >= 12) {
      if (body) {  // Content-Length bodies only (enough for the bench)
        const std::size_t cl = buf.find("Content-Length: ");
        const std::size_t n =
            cl == std::string::npos ? 0 : std::strtoul(buf.c_str() + cl + 16, nullptr, 10);
        while (buf.size() < end + 4 + n) {
          pollfd pf{fd, POLLIN, 0};
          if (::poll(&pf, 1, 1000) <= 0) break;
          char tmp[65536];
          const ssize_t k = ::recv(fd, tmp, sizeof tmp, 0);
          if (k <= 0) break;
          buf.append(tmp, static_cast<std::size_t>(k));
        }
        *body = buf.substr(end + 4);
      }
      return std::atoi(buf.c_str() + 9);
    }
    const int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
    if (left <= 0) return -1;
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, left) <= 0) return -1;
    char tmp[65536];
    const ssize_t k = ::recv(fd, tmp, sizeof tmp, 0);
    if (k <= 0) return 0;
    buf.append(tmp, static_cast<std::size_t>(k));
  }
}

int64_t rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  return -1;
}

std::string gzip_zeros(std::size_t n) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out;
  std::vector<unsigned char> zeros(1 << 20, 0), buf(1 << 20);
  std::size_t left = n;
  for (;;) {
    const std::size_t take = std::min(left, zeros.size());
    z.next_in = zeros.data();
    z.avail_in = static_cast<uInt>(take);
    left -= take;
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      deflate(&z, flush);
      out.append(reinterpret_cast<char*>(buf.data()), buf.size() - z.avail_out);
    } while (z.avail_out == 0);
    if (left == 0) break;
  }
  deflateEnd(&z);
  return out;
}

std::string base64(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    for (int sh = 18; sh >= 0; sh -= 6) out += a[(v >> sh) & 63];
  }
  if (i < in.size()) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (i + 1 < in.size() ? static_cast<uint8_t>(in[i + 1]) << 8 : 0);
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += i + 1 < in.size() ? a[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Args {
  std::string mode;
  int port = 0, metrics_port = 0, pid = 0, slots = 4, slow = 64, probes = 100;
  std::string token, image = "clients/samples/bar_chart.png";
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--port")
      a.port = std::atoi(v.c_str());
    else if (k == "--metrics-port")
      a.metrics_port = std::atoi(v.c_str());
    else if (k == "--pid")
      a.pid = std::atoi(v.c_str());
    else if (k == "--token")
      a.token = v;
    else if (k == "--slots")
      a.slots = std::atoi(v.c_str());
    else if (k == "--slow")
      a.slow = std::atoi(v.c_str());
    else if (k == "--probes")
      a.probes = std::atoi(v.c_str());
    else if (k == "--image")
      a.image = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

// ---------------------------------------------------------------- hostile

struct Hostile {
  const char* name;
  // Sends the request on `fd` until `until`; returns bytes sent.
  std::function<uint64_t(int fd, Clock::time_point until)> send;
};

// Streams `total` bytes of `fill` after `head` (chunked framing when `chunk`), stopping when
// the server answers or closes.
uint64_t stream_body(int fd, const std::string& head, uint64_t total, bool chunked,
                     Clock::time_point until, bool half_close = false) {
  if (!send_all(fd, head.data(), head.size(), until)) return head.size();
  uint64_t sent = head.size();
  const std::string block(1 << 20, ' ');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", block.size());
  for (uint64_t done = 0; done < total; done += block.size()) {
    if (chunked && !send_all(fd, size_line, std::strlen(size_line), until)) return sent;
    if (!send_all(fd, block.data(), block.size(), until)) return sent;
    sent += block.size();
    if (chunked && !send_all(fd, "\r\n", 2, until)) return sent;
  }
  if (chunked) send_all(fd, "0\r\n\r\n", 5, until);
  if (half_close) ::shutdown(fd, SHUT_WR);
  return sent;
}

int run_hostile(const Args& a) {
  const std::string auth = a.token.empty() ? "" : "Authorization: Bearer " + a.token + "\r\n";
  const std::string post = "POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\n";
  const std::string json = "Content-Type: application/json\r\n";
  const uint64_t MiB = 1 << 20;
  const std::string bomb = gzip_zeros(300 * MiB);
  std::vector<Hostile> cases = {
      {"chunked body 400 MiB",
       [&](int fd, Clock::time_point u) {
         return stream_body(fd, post + auth + json + "Transfer-Encoding: chunked\r\n\r\n",
                            400 * MiB, true, u);
       }},
      {"chunked body 300 MiB, no token",
       [&](int fd, Clock::time_point u) {
         return stream_body(fd, post + json + "Transfer-Encoding: chunked\r\n\r\n", 300 * MiB, true,
                            u);
       }},
      {"no Content-Length, 400 MiB then EOF",
       [&](int fd, Clock::time_point u) {
         return stream_body(fd, post + auth + json + "\r\n", 400 * MiB, false, u, true);
       }},
      {"Content-Length 400 MiB, sent",
       [&](int fd, Clock::time_point u) {
         return stream_body(
             fd, post + auth + json + "Content-Length: " + std::to_string(400 * MiB) + "\r\n\r\n",
             400 * MiB, false, u);
       }},
      {"gzip body 300 MiB inflated",
       [&](int fd, Clock::time_point u) {
         const std::string head =
             post + auth + json +
             "Content-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) +
             "\r\n\r\n";
         send_all(fd, head.data(), head.size(), u);
         send_all(fd, bomb.data(), bomb.size(), u);
         return static_cast<uint64_t>(head.size() + bomb.size());
       }},
      {"one header line 600 MiB",
       [&](int fd, Clock::time_point u) {
         return stream_body(fd, "GET /health HTTP/1.1\r\nHost: b\r\nX-A: ", 600 * MiB, false, u);
       }},
      {"request line 600 MiB",
       [&](int fd, Clock::time_point u) { return stream_body(fd, "GET /", 600 * MiB, false, u); }},
      {"100,000 header lines",
       [&](int fd, Clock::time_point u) {
         std::string h = "GET /health HTTP/1.1\r\nHost: b\r\n";
         for (int i = 0; i < 100000; ++i) h += "X-" + std::to_string(i) + ": v\r\n";
         h += "\r\n";
         send_all(fd, h.data(), h.size(), u);
         return static_cast<uint64_t>(h.size());
       }},
      {"JSON body just under the limit, one huge string",
       [&](int fd, Clock::time_point u) {
         // --max-receive-mib 32: limit 32 MiB x 4/3 + 64 KiB; 1 KiB under it.
         const uint64_t limit = (32 * MiB) / 3 * 4 + 64 * 1024;
         const std::string open = "{\"messages\":[],\"junk\":\"";
         const std::string close = "\"}";
         const uint64_t fill = limit - 1024 - open.size() - close.size();
         std::string body = open + std::string(fill, 'a') + close;
         const std::string head =
             post + auth + json + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
         send_all(fd, head.data(), head.size(), u);
         send_all(fd, body.data(), body.size(), u);
         return static_cast<uint64_t>(head.size() + body.size());
       }},
  };
  std::printf(
      "| hostile request | answer | sent MiB | RSS before MiB | peak growth MiB | growth 2 s after "
      "MiB | s |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const Hostile& h : cases) {
    std::this_thread::sleep_for(1s);
    const int64_t before = rss_bytes(a.pid);
    std::atomic<bool> sampling{true};
    std::atomic<int64_t> peak{before};
    std::thread sampler([&] {
      while (sampling.load()) {
        const int64_t r = rss_bytes(a.pid);
        if (r > peak.load()) peak.store(r);
        std::this_thread::sleep_for(5ms);
      }
    });
    const auto t0 = Clock::now();
    const int fd = connect_to(a.port);
    uint64_t sent = 0;
    int status = -2;
    if (fd >= 0) {
      sent = h.send(fd, Clock::now() + 60s);
      status = read_status(fd, 30s);
      ::close(fd);
    }
    const double took = secs_since(t0);
    std::this_thread::sleep_for(2s);
    sampling = false;
    sampler.join();
    const int64_t after = rss_bytes(a.pid);
    const std::string answer = status == 0    ? "closed"
                               : status == -1 ? "no answer in 30 s"
                               : status == -2 ? "connect failed"
                                              : std::to_string(status);
    std::printf("| %s | %s | %.1f | %.0f | %+.1f | %+.1f | %.1f |\n", h.name, answer.c_str(),
                static_cast<double>(sent) / MiB, static_cast<double>(before) / MiB,
                static_cast<double>(peak.load() - before) / MiB,
                static_cast<double>(after - before) / MiB, took);
    std::fflush(stdout);
    if (rss_bytes(a.pid) < 0) {
      std::printf("(the server process is gone)\n");
      return 1;
    }
  }
  return 0;
}

// ---------------------------------------------------------------- slow clients

std::string chat_request(const std::string& image_b64, int tokens, int steps) {
  const std::string body =
      "{\"max_tokens\":" + std::to_string(tokens) + ",\"steps\":" + std::to_string(steps) +
      ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is the "
      "highest bar?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64," +
      image_b64 + "\"}}]}]}";
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

double metric(int port, const std::string& name) {
  const int fd = connect_to(port);
  if (fd < 0) return -1;
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n";
  send_all(fd, req.data(), req.size(), Clock::now() + 5s);
  std::string all;
  char tmp[65536];
  for (;;) {
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, 5000) <= 0) break;
    const ssize_t k = ::recv(fd, tmp, sizeof tmp, 0);
    if (k <= 0) break;
    all.append(tmp, static_cast<std::size_t>(k));
  }
  ::close(fd);
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::atof(line.c_str() + name.size() + 1);
  return -1;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int run_slow(const Args& a) {
  const std::string image = base64(read_file(a.image));
  std::atomic<bool> stop{false};
  std::atomic<int> reopened{0};
  // Slow clients: a request head, one byte a second; reopened when the server closes it.
  std::vector<std::thread> slow;
  for (int i = 0; i < a.slow; ++i) {
    slow.emplace_back([&, i] {
      const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: slow" +
                               std::to_string(i) + "\r\nX-Pad: " + std::string(4000, 'p');
      while (!stop.load()) {
        const int fd = connect_to(a.port);
        if (fd < 0) {
          std::this_thread::sleep_for(100ms);
          continue;
        }
        for (char ch : head) {
          if (stop.load() || !send_all(fd, &ch, 1, Clock::now() + 2s)) break;
          for (int k = 0; k < 10 && !stop.load(); ++k) std::this_thread::sleep_for(100ms);
        }
        ::close(fd);
        if (!stop.load()) ++reopened;
      }
    });
  }
  std::this_thread::sleep_for(2s);
  // Every inference slot busy: `slots` long requests.
  std::atomic<int> answered{0}, failed{0};
  std::vector<std::thread> longs;
  for (int i = 0; i < a.slots; ++i) {
    longs.emplace_back([&] {
      const int fd = connect_to(a.port);
      const std::string req = chat_request(image, 256, 256);
      int status = fd < 0 ? -2
                          : (send_all(fd, req.data(), req.size(), Clock::now() + 30s),
                             read_status(fd, 600s));
      if (fd >= 0) ::close(fd);
      (status == 200 ? answered : failed)++;
      if (status != 200) std::fprintf(stderr, "long request: status %d\n", status);
    });
  }
  const auto busy_since = Clock::now();
  while (metric(a.metrics_port, "shirg_running_requests") < a.slots && secs_since(busy_since) < 120)
    std::this_thread::sleep_for(50ms);
  std::printf("slots busy after %.1f s (shirg_running_requests = %.0f), %d slow connections\n",
              secs_since(busy_since), metric(a.metrics_port, "shirg_running_requests"), a.slow);
  // Health probes (given up after 5 failures in a row: a server that cannot answer would
  // otherwise take 100 x the probe timeout).
  std::vector<double> lat;
  int probe_fail = 0, in_a_row = 0, probes_sent = 0;
  for (int i = 0; i < a.probes && in_a_row < 5; ++i) {
    ++probes_sent;
    const auto t0 = Clock::now();
    const int fd = connect_to(a.port);
    int status = -2;
    if (fd >= 0) {
      const std::string req = "GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
      send_all(fd, req.data(), req.size(), Clock::now() + 10s);
      status = read_status(fd, 5s);
      ::close(fd);
    }
    lat.push_back(secs_since(t0));
    if (status != 200) {
      ++probe_fail;
      ++in_a_row;
    } else {
      in_a_row = 0;
    }
    std::this_thread::sleep_for(20ms);
  }
  // A new chat request while every slot is busy: queued, or refused with 429.
  const double depth_before = metric(a.metrics_port, "shirg_queue_depth");
  const auto t0 = Clock::now();
  const int fd = connect_to(a.port);
  const std::string req = chat_request(image, 16, 8);
  send_all(fd, req.data(), req.size(), Clock::now() + 10s);
  double queued_after = -1;
  int early_status = -1;
  while (secs_since(t0) < 10) {
    pollfd pf{fd, POLLIN, 0};
    if (::poll(&pf, 1, 0) > 0) {
      early_status = read_status(fd, 1s);
      queued_after = secs_since(t0);
      break;
    }
    if (metric(a.metrics_port, "shirg_queue_depth") > depth_before) {
      queued_after = secs_since(t0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  stop = true;  // the slow clients go first, so a server they block can finish the rest
  for (auto& t : slow) t.join();
  const int new_status = early_status >= 0 ? early_status : read_status(fd, 120s);
  ::close(fd);
  for (auto& t : longs) t.join();
  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| GET /health probes | %d (%d failed or not 200 in 5 s)%s |\n", probes_sent,
              probe_fail, probes_sent < a.probes ? ", stopped after 5 failures in a row" : "");
  std::printf("| health latency p50 / p99 / max | %.3f / %.3f / %.3f s |\n", percentile(lat, 0.5),
              percentile(lat, 0.99), percentile(lat, 1.0));
  std::printf("| new chat request: %s after | %.3f s |\n",
              early_status >= 0 ? ("answered " + std::to_string(early_status)).c_str()
                                : "queued (shirg_queue_depth rose)",
              queued_after);
  std::printf("| new chat request's final answer | %d |\n", new_status);
  std::printf("| long requests answered 200 / not | %d / %d |\n", answered.load(), failed.load());
  std::printf("| slow connections reopened after the server closed them | %d |\n", reopened.load());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (a.mode == "hostile" && a.port && a.pid) return run_hostile(a);
  if (a.mode == "slow" && a.port && a.metrics_port) return run_slow(a);
  std::fprintf(stderr,
               "usage: bench_http_edge hostile --port P --pid PID [--token T]\n"
               "       bench_http_edge slow --port P --metrics-port M --slots N [--slow 64] "
               "[--probes 100] [--image PNG]\n");
  return 2;
}

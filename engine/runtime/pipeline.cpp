#include "engine/runtime/pipeline.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

#include "engine/llada/llada.h"
#include "engine/model/model.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/chat.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/vision/image.h"
#include "engine/vision/layouts.h"
#include "engine/vision/siglip.h"
#include "kvcache/prefix_cache.h"
#include "shirg/coord_embedding.h"
#include "shirg/overlay_png.h"
#include "shirg/selector.h"

namespace shirg {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

Status invalid(std::string m) {
  return Status::Error(StatusCode::kInvalidArgument, std::move(m));
}

// At a control point: cancellation first, then the deadline.
Status check_control(const RunControl& ctl, const char* where) {
  if (ctl.on_check) ctl.on_check(where);
  if (ctl.cancelled && ctl.cancelled->load(std::memory_order_relaxed))
    return Status::Error(StatusCode::kCancelled, std::string("request cancelled ") + where);
  if (ctl.deadline && Clock::now() >= *ctl.deadline)
    return Status::Error(StatusCode::kDeadlineExceeded, std::string("deadline exceeded ") + where);
  return Status::Ok();
}

Status check_image_bytes(const std::string& bytes, std::size_t max_bytes) {
  if (bytes.empty()) return invalid("image is empty");
  if (bytes.size() > max_bytes)
    return invalid("image is " + std::to_string(bytes.size()) + " bytes, the limit is " +
                   std::to_string(max_bytes));
  return Status::Ok();
}

Status check_question(const Model& m, const std::string& q, const PipelineLimits& lim,
                      bool required) {
  if (required && q.find_first_not_of(" \t\r\n") == std::string::npos)
    return invalid("question is empty");
  if (static_cast<int64_t>(q.size()) > lim.max_question_bytes)
    return invalid("question is " + std::to_string(q.size()) + " bytes, the limit is " +
                   std::to_string(lim.max_question_bytes));
  try {
    const auto ids = m.tokenizer->encode(q);
    if (static_cast<int64_t>(ids.size()) > lim.max_question_tokens)
      return invalid("question is " + std::to_string(ids.size()) + " tokens, the limit is " +
                     std::to_string(lim.max_question_tokens));
  } catch (const std::exception& e) {
    return invalid(e.what());
  }
  return Status::Ok();
}

Status check_selection(const SelectionOptions& s) {
  if (s.k < 1 || s.k > 2304)
    return invalid("selection.k must be in [1, 2304], got " + std::to_string(s.k));
  if (s.adaptive_k && (s.k_min < 1 || s.k_max > 2304 || s.k_min > s.k_max))
    return invalid("selection adaptive bounds must satisfy 1 <= k_min <= k_max <= 2304, got [" +
                   std::to_string(s.k_min) + ", " + std::to_string(s.k_max) + "]");
  return Status::Ok();
}

// The answer as the user sees it while steps run: masked positions as a glyph.
std::string render_partial(const tok::Tokenizer& t, const at::Tensor& ids, const SpecialIds& sp) {
  std::string out;
  std::vector<int64_t> run;
  const auto* p = ids.data_ptr<int64_t>();
  auto flush = [&] {
    if (!run.empty()) out += t.decode(run, /*skip_special_tokens=*/true);
    run.clear();
  };
  for (int64_t i = 0; i < ids.numel(); ++i) {
    if (p[i] == sp.mask) {
      flush();
      out += kMaskGlyph;
    } else if (p[i] == sp.eot || p[i] == sp.eos) {
      break;
    } else {
      run.push_back(p[i]);
    }
  }
  flush();
  return out;
}

// Thrown by the hooks inside the vision encoder and the prefill to stop there; run() returns
// its status.
struct Stopped {
  Status status;
};

// A hook that stops the stage it runs in when the request is cancelled or past its deadline.
std::function<void()> control_hook(const RunControl& ctl, const char* where) {
  return [&ctl, where] {
    if (Status s = check_control(ctl, where); !s.ok()) throw Stopped{std::move(s)};
  };
}

// Visual tokens [N, D] for the request's mode, with the selection summary and timings.
struct Visual {
  at::Tensor tokens;
  SelectionSummary summary;
  select::Selection selection;  // shirg family only
};

Status build_visual(const Model& m, const vision::RgbImage& img, const GenerateRequest& req,
                    const RunControl& ctl, StageTimings* t, Visual* out) {
  const SelectionOptions& so = req.selection;
  auto t0 = Clock::now();
  const vision::LayerHook hook = control_hook(ctl, "in the vision encoder");
  if (!is_shirg_family(so.mode)) {
    vision::LayoutTokens lt;
    if (so.mode == SelectionMode::kBaseline384)
      lt = vision::layout_lowres384(m, img, hook);
    else if (so.mode == SelectionMode::kLavida384)
      lt = vision::layout_lavida384(m, img, hook);
    else if (so.mode == SelectionMode::kLavidaHd)
      lt = vision::layout_lavida_hd(m, img, hook);
    else
      lt = vision::layout_full672(m, img, hook);
    t->vision_ms = ms_since(t0);  // includes the projector (it is inside the layout)
    out->tokens = lt.tokens;
    out->summary.visual_tokens = lt.tokens.size(0);
    out->summary.newline_tokens = lt.newline_tokens;
    out->summary.hi_detail_tokens = lt.tokens.size(0) - lt.newline_tokens;
    out->summary.candidate_tokens = out->summary.hi_detail_tokens;
    return Status::Ok();
  }
  const int64_t side = 672;
  at::Tensor feats = vision::encode_view(m, img, side, hook);  // [2304, Dv]
  t->vision_ms = ms_since(t0);
  if (Status s = check_control(ctl, "after the vision encoder"); !s.ok()) return s;

  auto t1 = Clock::now();
  select::SelectorParams p = select::params_for(so, req.generation.seed);
  select::SelectionInput in;
  in.features = feats;
  in.grid = side / m.config.vision.patch_size;
  if (p.query_aware) {
    in.projected = vision::project(m.projector, feats);
    in.query_embeds = llada::embed_tokens(m.llm, m.tokenizer->encode(req.question));
  }
  out->selection = select::select_tokens(in, p);
  at::Tensor tokens = out->selection.tokens;
  if (p.coords)  // hi-detail tokens only; the scaffold rows stay as pooled (seed 4.1)
    tokens = select::apply_coord_embedding_hi_detail(tokens, out->selection.coords,
                                                     out->selection.scaffold_tokens, m.coord);
  t->selection_ms = ms_since(t1);

  auto t2 = Clock::now();
  out->tokens = vision::project(m.projector, tokens);
  t->projector_ms = ms_since(t2);
  auto& s = out->summary;
  s.scaffold_tokens = out->selection.scaffold_tokens;
  s.hi_detail_tokens = out->selection.hi_detail_tokens;
  s.merged_groups = out->selection.merged_groups;
  s.visual_tokens = out->tokens.size(0);
  s.candidate_tokens = in.grid * in.grid;
  return Status::Ok();
}

}  // namespace

Pipeline::Pipeline(std::shared_ptr<const Model> model, PipelineLimits limits,
                   kv::CacheDType cache_dtype)
    : model_(std::move(model)), limits_(limits), cache_dtype_(cache_dtype) {}

Status Pipeline::validate(GenerateRequest& req) const {
  if (Status s = check_image_bytes(req.image_bytes, limits_.max_image_bytes); !s.ok()) return s;
  if (Status s = check_question(*model_, req.question, limits_, true); !s.ok()) return s;
  if (Status s = check_selection(req.selection); !s.ok()) return s;
  auto& g = req.generation;
  if (g.gen_length < 1 || g.gen_length > limits_.max_gen_length)
    return invalid("generation.gen_length must be in [1, " +
                   std::to_string(limits_.max_gen_length) + "], got " +
                   std::to_string(g.gen_length));
  if (g.steps > limits_.max_steps)
    return invalid("generation.steps must be at most " + std::to_string(limits_.max_steps) +
                   ", got " + std::to_string(g.steps));
  if (std::string err = sampler::resolve_options(g); !err.empty()) return invalid(err);
  return Status::Ok();
}

Status Pipeline::validate_selection(SelectionMapRequest& req) const {
  if (Status s = check_image_bytes(req.image_bytes, limits_.max_image_bytes); !s.ok()) return s;
  if (Status s = check_question(*model_, req.question, limits_, req.selection.query_aware); !s.ok())
    return s;
  if (!is_shirg_family(req.selection.mode))
    return invalid(std::string("selection map needs a SHIRG mode, got ") +
                   selection_mode_name(req.selection.mode));
  return check_selection(req.selection);
}

Status Pipeline::run(const GenerateRequest& req, const RunControl& ctl, GenerateResult* out) const {
  const Model& m = *model_;
  const auto t_start = Clock::now();
  StageTimings& t = out->timings;
  try {
    if (Status s = check_control(ctl, "before start"); !s.ok()) return s;
    // 1. Decode (untrusted bytes; limits checked from the header before allocating).
    auto t0 = Clock::now();
    vision::DecodeLimits lim;
    lim.max_bytes = limits_.max_image_bytes;
    lim.max_pixels = limits_.max_image_pixels;
    vision::RgbImage img;
    try {
      img = vision::decode_image(req.image_bytes.data(), req.image_bytes.size(), lim);
    } catch (const vision::ImageError& e) {
      return invalid(std::string("image: ") + e.what());
    }
    t.decode_ms = ms_since(t0);

    // 2-4. Vision, selection, projector (every selection decision happens here, before step 0).
    Visual vis;
    if (Status s = build_visual(m, img, req, ctl, &t, &vis); !s.ok()) return s;
    if (Status s = check_control(ctl, "after the visual tokens"); !s.ok()) return s;

    // 5. Prompt + prefix embeddings: visual tokens spliced in at the <image> placeholder.
    const std::string bos = m.tokenizer_config.bos_token.value_or("<|startoftext|>");
    const tok::LavidaPrompt prompt = tok::build_lavida_prompt(*m.tokenizer, req.question, bos);
    std::vector<int64_t> before(prompt.ids.begin(), prompt.ids.begin() + prompt.image_pos);
    std::vector<int64_t> after(prompt.ids.begin() + prompt.image_pos, prompt.ids.end());
    at::Tensor prefix = at::cat({llada::embed_tokens(m.llm, before), vis.tokens.to(m.dtype),
                                 llada::embed_tokens(m.llm, after)},
                                0);
    const int64_t P = prefix.size(0);
    const auto& g = req.generation;
    if (P + g.gen_length > m.config.llm.max_sequence_length)
      return invalid("prefix of " + std::to_string(P) + " tokens + gen_length " +
                     std::to_string(g.gen_length) + " exceeds the model's max_sequence_length " +
                     std::to_string(m.config.llm.max_sequence_length));

    // 6. Prefill: the prefix KV, computed once, frozen (bf16, or fp32), owned by this request.
    auto t1 = Clock::now();
    const kv::PrefixCache cache = llada::prefill(m.llm, m.config.llm, prefix, cache_dtype_,
                                                 control_hook(ctl, "in the prefill"));
    t.prefill_ms = ms_since(t1);
    out->prefix_tokens = P;
    out->cache_bytes = cache.bytes();
    out->selection = vis.summary;
    if (ctl.dump) {
      (*ctl.dump)["visual_tokens"] = vis.tokens.to(at::kFloat).cpu();
      (*ctl.dump)["prefix_embeddings"] = prefix.to(at::kFloat).cpu();
      (*ctl.dump)["prompt_ids"] = at::tensor(prompt.ids, at::kLong);
      if (vis.selection.scores.defined()) {
        (*ctl.dump)["selection_scores"] = vis.selection.scores.cpu();
        (*ctl.dump)["selection_kept_indices"] = at::tensor(vis.selection.kept_indices, at::kLong);
        (*ctl.dump)["selection_coords"] = vis.selection.coords.cpu();
      }
    }
    if (ctl.observer) {
      PrefixReadyEvent e;
      e.selection = vis.summary;
      e.prefix_tokens = P;
      e.cache_bytes = cache.bytes();
      e.timings = t;
      e.timings.total_ms = ms_since(t_start);
      ctl.observer->on_prefix_ready(e);
    }
    if (Status s = check_control(ctl, "after prefill"); !s.ok()) return s;

    // 7. Denoising steps against the frozen prefix.
    sampler::SamplerIds ids;
    ids.mask = m.ids.mask;
    ids.vocab_limit = m.tokenizer->vocab_size();
    ids.stop = m.ids.stop;
    ids.never_choose = {m.ids.mask};
    int64_t step_index = 0;
    auto logits_fn = [&](const at::Tensor& answer) {
      at::Tensor l = llada::answer_logits(m.llm, m.config.llm, cache, answer);
      if (ctl.dump) (*ctl.dump)["step_" + std::to_string(step_index) + "_logits"] = l.cpu();
      return l;
    };
    Status step_status = Status::Ok();
    auto on_step = [&](int64_t step, int64_t total, const at::Tensor& answer) {
      step_index = step;
      if (ctl.dump)
        (*ctl.dump)["step_" + std::to_string(step - 1) + "_tokens"] = answer.cpu().clone();
      if (ctl.observer) {
        StepEvent e;
        e.step = step;
        e.total_steps = total;
        e.partial_answer = render_partial(*m.tokenizer, answer.cpu(), m.ids);
        e.committed = (answer != m.ids.mask).sum().item<int64_t>();
        ctl.observer->on_step(e);
      }
      step_status = check_control(ctl, "between denoising steps");
      return step_status.ok();
    };
    auto t2 = Clock::now();
    const sampler::SamplerResult r = sampler::generate(g, ids, logits_fn, on_step);
    t.steps_ms = ms_since(t2);
    out->steps_run = r.steps_run;
    if (!step_status.ok()) return step_status;

    // 8. Decode: up to the first stop token, special tokens dropped.
    const at::Tensor answer = r.ids.cpu();
    const auto* p = answer.data_ptr<int64_t>();
    out->stop_reason = StopReason::kLength;
    for (int64_t i = 0; i < answer.numel(); ++i) {
      if (p[i] == m.ids.eot || p[i] == m.ids.eos) {
        out->stop_reason = StopReason::kStopToken;
        break;
      }
      out->answer_ids.push_back(p[i]);
    }
    std::string text = m.tokenizer->decode(out->answer_ids, /*skip_special_tokens=*/true);
    // LaViDa strips leading '!' from answers (its tokenizer's id 0; a random-weights artefact).
    const auto first = text.find_first_not_of('!');
    out->answer = first == std::string::npos ? std::string() : text.substr(first);
    if (ctl.dump) (*ctl.dump)["answer_ids"] = answer.clone();
    t.total_ms = ms_since(t_start);
    return Status::Ok();
  } catch (const Stopped& s) {
    return s.status;
  } catch (const std::exception& e) {
    return Status::Error(StatusCode::kInternal, std::string("internal error: ") + e.what());
  }
}

Status Pipeline::run_selection_map(const SelectionMapRequest& req, const RunControl& ctl,
                                   SelectionMapResult* out) const {
  const Model& m = *model_;
  try {
    if (Status s = check_control(ctl, "before start"); !s.ok()) return s;
    vision::DecodeLimits lim;
    lim.max_bytes = limits_.max_image_bytes;
    lim.max_pixels = limits_.max_image_pixels;
    vision::RgbImage img;
    try {
      img = vision::decode_image(req.image_bytes.data(), req.image_bytes.size(), lim);
    } catch (const vision::ImageError& e) {
      return invalid(std::string("image: ") + e.what());
    }
    GenerateRequest g;
    g.question = req.question;
    g.selection = req.selection;
    StageTimings t;
    Visual vis;
    if (Status s = build_visual(m, img, g, ctl, &t, &vis); !s.ok()) return s;
    const auto& sel = vis.selection;
    out->grid =
        static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(sel.scores.numel()))));
    out->kept_indices = sel.kept_indices;
    at::Tensor sc = sel.scores.to(at::kFloat).contiguous().cpu();
    out->scores.assign(sc.data_ptr<float>(), sc.data_ptr<float>() + sc.numel());
    out->scaffold_tokens = sel.scaffold_tokens;
    out->summary = vis.summary;
    out->selection_ms = t.selection_ms;
    const vision::RgbImage view = vision::resize_bicubic(img, 672, 672);
    out->overlay_png =
        select::render_overlay_png(view.rgb.data(), view.width, view.height, sel, out->grid);
    return Status::Ok();
  } catch (const Stopped& s) {
    return s.status;
  } catch (const std::exception& e) {
    return Status::Error(StatusCode::kInternal, std::string("internal error: ") + e.what());
  }
}

}  // namespace shirg

#include "engine/runtime/pipeline.h"

#include "engine/runtime/failure.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

#include "engine/llada/llada.h"
#include "engine/model/model.h"
#include "engine/platform/device.h"
#include "engine/platform/device_memory.h"
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

Status check_image_bytes(const std::string& bytes, int64_t max_bytes) {
  if (bytes.empty()) return invalid("image is empty");
  if (static_cast<int64_t>(bytes.size()) > max_bytes)
    return invalid("image is " + std::to_string(bytes.size()) + " bytes, the limit is " +
                   std::to_string(max_bytes));
  return Status::Ok();
}

Status check_question(const Model& m, const std::string& q, const RequestLimits& lim,
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

// K bounds from the model: 1 .. the hi-detail grid's cell count (2304 at 672 with 14-px patches).
Status check_selection(const Model& m, const SelectionOptions& s) {
  const int64_t n = m.config.hires_tokens();
  const std::string cells = std::to_string(n);
  if (s.k < 1 || s.k > n)
    return invalid("selection.k must be in [1, " + cells + "], got " + std::to_string(s.k));
  if (s.adaptive_k && (s.k_min < 1 || s.k_max > n || s.k_min > s.k_max))
    return invalid("selection adaptive bounds must satisfy 1 <= k_min <= k_max <= " + cells +
                   ", got [" + std::to_string(s.k_min) + ", " + std::to_string(s.k_max) + "]");
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

// Untrusted bytes -> RGB, limits checked from the header before allocating. INVALID_ARGUMENT
// for bytes that are not a decodable image within the limits.
Status decode(const std::string& bytes, const RequestLimits& limits, vision::RgbImage* img) {
  vision::DecodeLimits lim;
  lim.max_bytes = static_cast<std::size_t>(limits.max_image_bytes);
  lim.max_pixels = limits.max_image_pixels;
  try {
    *img = vision::decode_image(bytes.data(), bytes.size(), lim);
  } catch (const vision::ImageError& e) {
    return invalid(std::string("image: ") + e.what());
  }
  return Status::Ok();
}

// Milliseconds since t once the work queued on the device has run (CUDA is asynchronous).
double stage_ms(const Model& m, Clock::time_point t) {
  synchronize(m.device);
  return ms_since(t);
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
    t->vision_ms = stage_ms(m, t0);  // includes the projector (it is inside the layout)
    out->tokens = lt.tokens;
    out->summary.visual_tokens = lt.tokens.size(0);
    out->summary.newline_tokens = lt.newline_tokens;
    out->summary.hi_detail_tokens = lt.tokens.size(0) - lt.newline_tokens;
    out->summary.candidate_tokens = out->summary.hi_detail_tokens;
    return Status::Ok();
  }
  const int64_t side = m.config.shirg.hires_image_size;
  at::Tensor feats = vision::encode_view(m, img, side, hook);  // [grid^2, Dv]: [2304, Dv] at 672
  t->vision_ms = stage_ms(m, t0);
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
  if (p.coords)  // hi-detail tokens only; the scaffold rows stay as pooled
    tokens = select::apply_coord_embedding_hi_detail(tokens, out->selection.coords,
                                                     out->selection.scaffold_tokens, m.coord);
  t->selection_ms = stage_ms(m, t1);

  auto t2 = Clock::now();
  out->tokens = vision::project(m.projector, tokens);
  t->projector_ms = stage_ms(m, t2);
  auto& s = out->summary;
  s.scaffold_tokens = out->selection.scaffold_tokens;
  s.hi_detail_tokens = out->selection.hi_detail_tokens;
  s.merged_groups = out->selection.merged_groups;
  s.visual_tokens = out->tokens.size(0);
  s.candidate_tokens = in.grid * in.grid;
  return Status::Ok();
}

}  // namespace

Status check_control(const RunControl& ctl, const char* where) {
  if (ctl.on_check) ctl.on_check(where);
  if (ctl.cancelled && ctl.cancelled->load(std::memory_order_relaxed))
    return Status::Error(StatusCode::kCancelled, std::string("request cancelled ") + where);
  if (ctl.deadline && Clock::now() >= *ctl.deadline)
    return Status::Error(StatusCode::kDeadlineExceeded, std::string("deadline exceeded ") + where);
  return Status::Ok();
}

Pipeline::Pipeline(std::shared_ptr<const Model> model, RequestLimits limits,
                   kv::CacheDType cache_dtype)
    : model_(std::move(model)), limits_(limits), cache_dtype_(cache_dtype) {}

Status Pipeline::validate(GenerateRequest& req) const {
  if (Status s = check_image_bytes(req.image_bytes, limits_.max_image_bytes); !s.ok()) return s;
  if (Status s = check_question(*model_, req.question, limits_, true); !s.ok()) return s;
  if (Status s = check_selection(*model_, req.selection); !s.ok()) return s;
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
  return check_selection(*model_, req.selection);
}

Status Pipeline::run(const GenerateRequest& req, const RunControl& ctl, GenerateResult* out) const {
  RequestState st;
  Status s = prepare(req, ctl, &st);
  try {
    while (s.ok() && !st.sampler->done()) {
      const std::vector<at::Tensor> logits = step_batch({&st});
      s = after_step(req, ctl, st, logits[0]);
    }
    if (s.ok()) finish(ctl, st);
  } catch (const std::exception& e) {
    s = failure_status(e, model_->device, "in a denoising step");
  }
  *out = std::move(st.result);
  return s;
}

namespace {

// The prompt rendered by the checkpoint's chat template with the visual tokens spliced in at the
// image placeholder: the prefix embeddings [P, D] (compute dtype, on the model's device) and the
// prompt's token ids (without the visual tokens).
struct Prefix {
  at::Tensor embeddings;
  std::vector<int64_t> prompt_ids;
};

Prefix build_prefix(const Model& m, const std::string& question, const at::Tensor& visual) {
  const std::string bos = m.tokenizer_config.bos_token.value_or("<|startoftext|>");
  const tok::LavidaPrompt prompt = tok::build_lavida_prompt(*m.tokenizer, question, bos);
  return {llada::splice_visual(m.llm, prompt.ids, {{prompt.image_pos, visual}}), prompt.ids};
}

void dump_prefix(const Visual& vis, const Prefix& prefix, std::map<std::string, at::Tensor>& d) {
  d["visual_tokens"] = vis.tokens.to(at::kFloat).cpu();
  d["prefix_embeddings"] = prefix.embeddings.to(at::kFloat).cpu();
  d["prompt_ids"] = at::tensor(prefix.prompt_ids, at::kLong);
  if (vis.selection.scores.defined()) {
    d["selection_scores"] = vis.selection.scores.cpu();
    d["selection_kept_indices"] = at::tensor(vis.selection.kept_indices, at::kLong);
    d["selection_coords"] = vis.selection.coords.cpu();
  }
}

}  // namespace

Status Pipeline::prepare(const GenerateRequest& req, const RunControl& ctl,
                         RequestState* st) const {
  const Model& m = *model_;
  st->started = Clock::now();
  StageTimings& t = st->result.timings;
  try {
    if (Status s = check_control(ctl, "before start"); !s.ok()) return s;
    // 1. Decode (untrusted bytes).
    auto t0 = Clock::now();
    vision::RgbImage img;
    if (Status s = decode(req.image_bytes, limits_, &img); !s.ok()) return s;
    t.decode_ms = ms_since(t0);

    // 2-4. Vision, selection, projector (every selection decision happens here, before step 0).
    Visual vis;
    if (Status s = build_visual(m, img, req, ctl, &t, &vis); !s.ok()) return s;
    if (Status s = check_control(ctl, "after the visual tokens"); !s.ok()) return s;

    // 5. Prompt + prefix embeddings, within the model's context and the cache budget.
    const Prefix prefix = build_prefix(m, req.question, vis.tokens);
    const int64_t P = prefix.embeddings.size(0);
    const auto& g = req.generation;
    if (P + g.gen_length > m.config.llm.max_sequence_length)
      return invalid("prefix of " + std::to_string(P) + " tokens + gen_length " +
                     std::to_string(g.gen_length) + " exceeds the model's max_sequence_length " +
                     std::to_string(m.config.llm.max_sequence_length));
    if (ctl.reserve_cache) {
      const auto& c = m.config.llm;
      const int64_t bytes = kv::cache_bytes_for(c.n_layers, P, c.d_model, cache_dtype_);
      if (Status s = ctl.reserve_cache(bytes); !s.ok()) return s;
    }

    // 6. Prefill: the prefix KV, computed once, frozen (bf16, or fp32), owned by this request.
    auto t1 = Clock::now();
    st->cache = llada::prefill(m.llm, m.config.llm, prefix.embeddings, cache_dtype_,
                               control_hook(ctl, "in the prefill"));
    t.prefill_ms = stage_ms(m, t1);
    GenerateResult& out = st->result;
    out.prefix_tokens = P;
    out.cache_bytes = st->cache.bytes();
    out.selection = vis.summary;
    if (ctl.dump) dump_prefix(vis, prefix, *ctl.dump);
    if (ctl.observer) {
      PrefixReadyEvent e;
      e.selection = vis.summary;
      e.prefix_tokens = P;
      e.cache_bytes = st->cache.bytes();
      e.timings = t;
      e.timings.total_ms = ms_since(st->started);
      ctl.observer->on_prefix_ready(e);
    }
    sampler::SamplerIds ids;
    ids.mask = m.ids.mask;
    ids.vocab_limit = m.tokenizer->vocab_size();
    ids.stop = m.ids.stop;
    ids.never_choose = {m.ids.mask};
    st->sampler.emplace(g, ids);
    st->all_logits = ctl.dump != nullptr;
    return check_control(ctl, "after prefill");
  } catch (const Stopped& s) {
    return s.status;
  } catch (const std::exception& e) {
    st->cache = kv::PrefixCache{};  // an out-of-memory error leaves nothing behind
    return failure_status(e, m.device, "in the prefix stages");
  }
}

std::vector<at::Tensor> Pipeline::step_batch(const std::vector<RequestState*>& batch) const {
  const Model& m = *model_;
  std::vector<llada::AnswerRows> rows;
  const auto now = Clock::now();
  for (RequestState* st : batch) {
    if (st->sampler->steps_run() == 0) st->first_step = now;
    // The LM head runs on the rows the sampler reads, unless the dump wants every row.
    rows.push_back({&st->cache, st->sampler->ids(),
                    st->all_logits ? std::vector<int64_t>{} : st->sampler->logit_rows()});
  }
  std::vector<at::Tensor> logits = llada::answer_logits_batch(m.llm, m.config.llm, rows);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->sampler->step(logits[i]);
    batch[i]->result.steps_run = batch[i]->sampler->steps_run();
  }
  return logits;
}

Status Pipeline::after_step(const GenerateRequest& req, const RunControl& ctl, RequestState& st,
                            const at::Tensor& logits) const {
  const Model& m = *model_;
  const sampler::SamplerState& s = *st.sampler;
  const at::Tensor& answer = s.ids();
  if (ctl.dump) {
    if (logits.defined())
      (*ctl.dump)["step_" + std::to_string(s.steps_run() - 1) + "_logits"] = logits.cpu();
    (*ctl.dump)["step_" + std::to_string(s.steps_run() - 1) + "_tokens"] = answer.cpu().clone();
  }
  if (ctl.observer) {
    StepEvent e;
    e.step = s.steps_run();
    e.total_steps = s.total_steps();
    // Rendering costs a detokenisation per step: only for callers that stream the events.
    if (req.want_step_events) e.partial_answer = render_partial(*m.tokenizer, answer, m.ids);
    e.committed = (answer != m.ids.mask).sum().item<int64_t>();
    ctl.observer->on_step(e);
  }
  return check_control(ctl, "between denoising steps");
}

void Pipeline::finish(const RunControl& ctl, RequestState& st) const {
  const Model& m = *model_;
  GenerateResult& out = st.result;
  out.timings.steps_ms = st.sampler->steps_run() > 0 ? ms_since(st.first_step) : 0;
  // 8. Decode: up to the first stop token, special tokens dropped.
  const at::Tensor answer = st.sampler->ids();
  const auto* p = answer.data_ptr<int64_t>();
  out.stop_reason = StopReason::kLength;
  out.answer_ids.clear();
  for (int64_t i = 0; i < answer.numel(); ++i) {
    if (p[i] == m.ids.eot || p[i] == m.ids.eos) {
      out.stop_reason = StopReason::kStopToken;
      break;
    }
    out.answer_ids.push_back(p[i]);
  }
  std::string text = m.tokenizer->decode(out.answer_ids, /*skip_special_tokens=*/true);
  // LaViDa's inference strips leading '!' (token id 0) from decoded answers (its predict.py and
  // lmms-eval model do text.lstrip('!')): the same here, so answers compare one to one.
  const auto first = text.find_first_not_of('!');
  out.answer = first == std::string::npos ? std::string() : text.substr(first);
  if (ctl.dump) (*ctl.dump)["answer_ids"] = answer.clone();
  out.timings.total_ms = ms_since(st.started);
}

Status Pipeline::run_selection_map(const SelectionMapRequest& req, const RunControl& ctl,
                                   SelectionMapResult* out) const {
  const Model& m = *model_;
  try {
    if (Status s = check_control(ctl, "before start"); !s.ok()) return s;
    vision::RgbImage img;
    if (Status s = decode(req.image_bytes, limits_, &img); !s.ok()) return s;
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
    const int64_t side = m.config.shirg.hires_image_size;
    const vision::RgbImage view = vision::resize_bicubic(img, side, side);
    out->overlay_png =
        select::render_overlay_png(view.rgb.data(), view.width, view.height, sel, out->grid);
    return Status::Ok();
  } catch (const Stopped& s) {
    return s.status;
  } catch (const std::exception& e) {
    return failure_status(e, m.device, "in the selection");
  }
}

at::Device Pipeline::device() const {
  return model_->device;
}

}  // namespace shirg

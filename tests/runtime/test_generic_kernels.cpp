// The generic path (--kernels generic: at::linear, generic attention, plain tensor ops; what a
// CUDA device runs) against the CPU's specialised kernels (packed GEMMs, the chunked and
// cached-step attention) on the same checkpoint: visual tokens, prefix embeddings, the prefix
// cache, every step's logits and the answer ids, for every selection mode, alone and in a batch
// of different requests.
//
// The generic model runs on SHIRG_TEST_DEVICE (default cpu; scripts/gpu-check.sh sets cuda), the
// reference on the CPU. Tolerances (fp32 compute, fp32 prefix cache so that the cache is compared
// before any 16-bit rounding): relative 1e-4 of the tensor's largest magnitude on the CPU (both
// paths do fp32 arithmetic in another summation order), 1e-3 on another device (its kernels
// differ more); answer ids equal (greedy decoding). bf16 compute: the two paths round at
// different places (the cached-step kernel keeps the scores in fp32, the generic path rounds
// them to bf16; the CPU's GELU rounds once): visual tokens, prefix and step-0 logits within 5e-2
// relative, answers not compared.
#include "tests/common/catch_torch.h"

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/attention/attention.h"
#include "engine/gemm/batched_matmul.h"
#include "engine/gemm/linear_weight.h"
#include "engine/model/model.h"
#include "engine/platform/device.h"
#include "engine/runtime/pipeline.h"
#include "tests/common/test_images.h"

using namespace shirg;

namespace {

at::Device test_device() {
  const char* d = std::getenv("SHIRG_TEST_DEVICE");
  return resolve_device(d && *d ? d : "cpu");
}

std::shared_ptr<const Model> load(Kernels kernels, at::Device device, bool adapter,
                                  at::ScalarType dtype = at::kFloat) {
  LoadOptions o;
  o.model_dir = std::string(SHIRG_BINARY_DIR) + "/models/tiny";
  if (adapter) o.adapter_dirs = {std::string(SHIRG_BINARY_DIR) + "/models/tiny-adapter"};
  o.dtype = dtype;
  o.device = device;
  o.kernels = kernels;
  return load_model(o);
}

struct Models {
  std::shared_ptr<const Model> specialised = load(Kernels::kAuto, at::kCPU, true);
  std::shared_ptr<const Model> generic = load(Kernels::kGeneric, test_device(), true);
  double tolerance() const { return generic->device.is_cpu() ? 1e-4 : 1e-3; }
};

const Models& models() {
  static const Models m;
  return m;
}

// max |a - b| relative to max(1, max |b|), both brought to the CPU in fp64.
double relative_diff(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor x = a.detach().cpu().to(at::kDouble), y = b.detach().cpu().to(at::kDouble);
  REQUIRE(x.sizes() == y.sizes());
  const double scale = std::max(1.0, y.abs().max().item<double>());
  return (x - y).abs().max().item<double>() / scale;
}

GenerateRequest request(SelectionMode mode, const std::string& question, uint64_t seed) {
  GenerateRequest r;
  r.image_bytes = testing::chart_png(mode == SelectionMode::kLavidaHd ? 768 : 512, 512);
  r.question = question;
  r.selection.mode = mode;
  r.generation.gen_length = 16;
  r.generation.block_length = 8;
  r.generation.steps = 8;
  r.generation.seed = seed;
  return r;
}

// One model's run of a request, stage by stage.
struct Run {
  std::map<std::string, at::Tensor> dump;
  RunControl ctl;
  RequestState st;
  Run() { ctl.dump = &dump; }
};

void check_prefix(const Run& a, const Run& b, double tol) {
  for (const char* name : {"visual_tokens", "prefix_embeddings"}) {
    INFO(name);
    CHECK(relative_diff(a.dump.at(name), b.dump.at(name)) < tol);
  }
  REQUIRE(a.st.cache.n_layers() == b.st.cache.n_layers());
  for (int64_t l = 0; l < a.st.cache.n_layers(); ++l) {
    INFO("cache layer " << l);
    CHECK(relative_diff(a.st.cache.keys(l), b.st.cache.keys(l)) < tol);
    CHECK(relative_diff(a.st.cache.values(l), b.st.cache.values(l)) < tol);
  }
}

}  // namespace

TEST_CASE("the generic path runs the generic kernels; the CPU's path the specialised ones") {
  const Models& m = models();
  CHECK(m.generic->kernels == Kernels::kGeneric);
  CHECK(m.generic->llm.kernels == Kernels::kGeneric);
  CHECK(m.generic->vision.kernels == Kernels::kGeneric);
  CHECK(m.generic->summary.llm_matrices_packed == 0);
  CHECK(m.generic->llm.lm_head.implementation() == "at::linear");
  // The reference really runs the specialised kernels (else the comparison would be vacuous).
  if (gemm::packing_available()) CHECK(m.specialised->summary.llm_matrices_packed > 0);
  const std::vector<attention::KvPart> step = {{at::randn({2, 20, 8}), at::randn({2, 20, 8})},
                                               {at::randn({2, 4, 8}), at::randn({2, 4, 8})}};
  if (gemm::batched_matmul_native())
    CHECK(attention::choose_implementation(at::randn({2, 4, 8}), step, {}, Kernels::kAuto) ==
          attention::Implementation::kCachedStep);
  const at::Tensor q = at::randn({2, 4, 8}).to(m.generic->device);
  const std::vector<attention::KvPart> parts = {
      {at::randn({2, 20, 8}).to(q.device()), at::randn({2, 20, 8}).to(q.device())}};
  CHECK(attention::choose_implementation(q, parts, {}, m.generic->kernels) ==
        attention::Implementation::kGeneric);
}

TEST_CASE("generic == specialised for every selection mode: tokens, cache, logits, answer") {
  const Models& m = models();
  const double tol = m.tolerance();
  const Pipeline spec(m.specialised, {}, kv::CacheDType::kFp32);
  const Pipeline gen(m.generic, {}, kv::CacheDType::kFp32);
  for (SelectionMode mode : kAllSelectionModes) {
    INFO(selection_mode_name(mode) << " on " << m.generic->device.str());
    GenerateRequest req = request(mode, "What is the value of the tallest bar?", 3);
    REQUIRE(spec.validate(req).ok());
    Run a, b;
    REQUIRE(spec.prepare(req, a.ctl, &a.st).ok());
    REQUIRE(gen.prepare(req, b.ctl, &b.st).ok());
    check_prefix(a, b, tol);
    int64_t step = 0;
    while (!spec.done(a.st)) {
      REQUIRE_FALSE(gen.done(b.st));
      const at::Tensor la = spec.step_batch({&a.st})[0], lb = gen.step_batch({&b.st})[0];
      INFO("step " << step);
      CHECK(relative_diff(lb, la) < tol);
      REQUIRE(at::equal(a.st.sampler->ids(), b.st.sampler->ids()));
      ++step;
    }
    CHECK(gen.done(b.st));
    spec.finish(a.ctl, a.st);
    gen.finish(b.ctl, b.st);
    CHECK(a.st.result.answer_ids == b.st.result.answer_ids);
    CHECK(a.st.result.answer == b.st.result.answer);
  }
}

TEST_CASE("generic == specialised in a batch of different requests") {
  const Models& m = models();
  const double tol = m.tolerance();
  const Pipeline spec(m.specialised, {}, kv::CacheDType::kFp32);
  const Pipeline gen(m.generic, {}, kv::CacheDType::kFp32);
  std::vector<GenerateRequest> reqs = {
      request(SelectionMode::kShirg, "What is the value of the tallest bar?", 1),
      request(SelectionMode::kBaseline384, "What is the title?", 2),
      request(SelectionMode::kFull672, "How many bars are there?", 3)};
  reqs[1].generation.gen_length = 8;  // answers of different lengths step together
  reqs[1].generation.block_length = 8;
  reqs[1].generation.steps = 4;
  std::vector<Run> a(reqs.size()), b(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    REQUIRE(spec.validate(reqs[i]).ok());
    REQUIRE(spec.prepare(reqs[i], a[i].ctl, &a[i].st).ok());
    REQUIRE(gen.prepare(reqs[i], b[i].ctl, &b[i].st).ok());
  }
  for (int step = 0;; ++step) {
    std::vector<RequestState*> sa, sb;
    std::vector<size_t> which;
    for (size_t i = 0; i < reqs.size(); ++i) {
      if (spec.done(a[i].st)) continue;
      sa.push_back(&a[i].st);
      sb.push_back(&b[i].st);
      which.push_back(i);
    }
    if (sa.empty()) break;
    const auto la = spec.step_batch(sa), lb = gen.step_batch(sb);
    for (size_t j = 0; j < which.size(); ++j) {
      INFO("step " << step << ", request " << which[j]);
      CHECK(relative_diff(lb[j], la[j]) < tol);
      REQUIRE(at::equal(a[which[j]].st.sampler->ids(), b[which[j]].st.sampler->ids()));
    }
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    CHECK(gen.done(b[i].st));
    spec.finish(a[i].ctl, a[i].st);
    gen.finish(b[i].ctl, b[i].st);
    CHECK(a[i].st.result.answer_ids == b[i].st.result.answer_ids);
  }
}

TEST_CASE("generic == specialised under bf16 compute, within bf16's rounding") {
  const auto specialised = load(Kernels::kAuto, at::kCPU, true, at::kBFloat16);
  const auto generic = load(Kernels::kGeneric, test_device(), true, at::kBFloat16);
  const Pipeline spec(specialised, {});
  const Pipeline gen(generic, {});
  for (SelectionMode mode : {SelectionMode::kShirg, SelectionMode::kFull672}) {
    INFO(selection_mode_name(mode));
    GenerateRequest req = request(mode, "What is the value of the tallest bar?", 5);
    REQUIRE(spec.validate(req).ok());
    Run a, b;
    REQUIRE(spec.prepare(req, a.ctl, &a.st).ok());
    REQUIRE(gen.prepare(req, b.ctl, &b.st).ok());
    for (const char* name : {"visual_tokens", "prefix_embeddings"}) {
      INFO(name);
      CHECK(relative_diff(b.dump.at(name), a.dump.at(name)) < 5e-2);
    }
    const at::Tensor la = spec.step_batch({&a.st})[0], lb = gen.step_batch({&b.st})[0];
    CHECK(relative_diff(lb, la) < 5e-2);
  }
}

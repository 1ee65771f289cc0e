// The C++ LLaDA forward and sampler against the independent float64 Python reference
// (tests/llada/reference_llada.py, Debian's python3-torch) on a small random checkpoint written
// under the real tensor names.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "engine/llada/llada.h"
#include "engine/safetensors/safetensors_file.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/sampler/sampler.h"
#include "tests/llada/random_llada.h"

using namespace shirg;
namespace fs = std::filesystem;

namespace {

struct GenCase {
  GenerationOptions o;
  std::string remasking, schedule;
  std::vector<int64_t> stop;
  bool stop_early = false;
};

GenCase gen_case(int64_t block, int64_t steps, Remasking r, const char* rname, TransferSchedule s,
                 const char* sname, double shift, double temp, uint64_t seed) {
  GenCase c;
  c.o.gen_length = 16;
  c.o.block_length = block;
  c.o.steps = steps;
  c.o.remasking = r;
  c.o.schedule = s;
  c.o.shift = shift;
  c.o.temperature = temp;
  c.o.seed = seed;
  c.remasking = rname;
  c.schedule = sname;
  return c;
}

at::Tensor read_tensor(const st::SafetensorsFile& f, const std::string& name) {
  const auto* v = f.find(name);
  REQUIRE(v != nullptr);
  at::ScalarType t = v->dtype == st::DType::F64   ? at::kDouble
                     : v->dtype == st::DType::I64 ? at::kLong
                                                  : at::kFloat;
  REQUIRE((v->dtype == st::DType::F64 || v->dtype == st::DType::I64 || v->dtype == st::DType::F32));
  return at::from_blob(const_cast<std::byte*>(v->data), v->shape, at::TensorOptions().dtype(t))
      .clone();
}

}  // namespace

TEST_CASE("LM forward and generations match the independent Python reference", "[llada][python]") {
  const fs::path dir = fs::path(SHIRG_BINARY_DIR) / "tests" / "llada" / "reference_work";
  fs::create_directories(dir);
  testing::RandomLladaSpec spec;
  spec.seed = 77;
  spec.n_layers = 3;
  auto m = testing::make_random_llada(spec);
  const int64_t mask = spec.vocab - 1, vocab_limit = spec.vocab - 6;
  testing::write_llada_safetensors(m, (dir / "model.safetensors").string());
  testing::write_llada_config_json(m.cfg, (dir / "config.json").string());

  auto prefix = testing::random_prefix(29, spec.d_model, 5);
  auto answer = at::full({16}, mask, at::kLong);
  answer[2] = 40;
  answer[11] = 7;
  {
    st::SafetensorsWriter w;
    w.add("prefix", st::DType::F32, prefix.sizes().vec(), prefix.data_ptr(), prefix.nbytes());
    w.add("answer_ids", st::DType::I64, answer.sizes().vec(), answer.data_ptr(), answer.nbytes());
    w.write((dir / "inputs.safetensors").string());
  }

  // C++ side: fp32 compute, fp32 cache.
  auto cache = llada::prefill(m.w, m.cfg, prefix, kv::CacheDType::kFp32);
  sampler::LogitsFn fn = [&](const at::Tensor& ids) {
    return llada::answer_logits(m.w, m.cfg, cache, ids);
  };
  sampler::SamplerIds sids;
  sids.mask = mask;
  sids.vocab_limit = vocab_limit;
  sids.stop_early = false;

  std::vector<GenCase> cases = {
      gen_case(8, 8, Remasking::kLowConfidence, "low_confidence", TransferSchedule::kUniform,
               "uniform", 1, 0, 0),
      gen_case(16, 6, Remasking::kMargin, "margin", TransferSchedule::kShift, "shift", 1.0 / 3.0, 0,
               0),
      gen_case(4, 16, Remasking::kEntropy, "entropy", TransferSchedule::kShift, "shift", 3.0, 0, 0),
      gen_case(8, 10, Remasking::kRandom, "random", TransferSchedule::kUniform, "uniform", 1, 0, 5),
      gen_case(16, 8, Remasking::kLowConfidence, "low_confidence", TransferSchedule::kUniform,
               "uniform", 1, 0.8, 42),
      gen_case(8, 12, Remasking::kMargin, "margin", TransferSchedule::kShift, "shift", 0.5, 1.5,
               1234567),
  };
  std::vector<at::Tensor> ours;
  for (auto& c : cases) ours.push_back(sampler::generate(c.o, sids, fn, nullptr).ids);
  // An early-stop case: the token that case 0 commits at position 3 is the stop token.
  auto stop_case = cases[0];
  stop_case.stop = {ours[0][3].item<int64_t>()};
  stop_case.stop_early = true;
  auto stop_ids = sids;
  stop_ids.stop = stop_case.stop;
  stop_ids.stop_early = true;
  auto stop_res = sampler::generate(stop_case.o, stop_ids, fn, nullptr);
  cases.push_back(stop_case);
  ours.push_back(stop_res.ids);

  {
    std::ofstream g(dir / "gens.json");
    g.precision(17);
    g << "[";
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      g << (i ? "," : "") << "{\"gen_length\":" << c.o.gen_length
        << ",\"block_length\":" << c.o.block_length << ",\"steps\":" << c.o.steps
        << ",\"remasking\":\"" << c.remasking << "\",\"schedule\":\"" << c.schedule
        << "\",\"shift\":" << c.o.shift << ",\"temperature\":" << c.o.temperature
        << ",\"seed\":" << c.o.seed << ",\"mask\":" << mask << ",\"vocab_limit\":" << vocab_limit
        << ",\"stop_early\":" << (c.stop_early ? "true" : "false") << ",\"stop\":[";
      for (size_t j = 0; j < c.stop.size(); ++j) g << (j ? "," : "") << c.stop[j];
      g << "]}";
    }
    g << "]\n";
  }

  const fs::path out = dir / "reference_out.safetensors";
  fs::remove(out);
  std::ostringstream cmd;
  cmd << SHIRG_PYTHON << " " << SHIRG_SOURCE_DIR << "/tests/llada/reference_llada.py"
      << " --weights " << dir / "model.safetensors"
      << " --config " << dir / "config.json"
      << " --inputs " << dir / "inputs.safetensors"
      << " --gens " << dir / "gens.json"
      << " --out " << out;
  INFO(cmd.str());
  REQUIRE(std::system(cmd.str().c_str()) == 0);
  auto ref = st::SafetensorsFile::open(out.string());

  auto ref_logits = read_tensor(*ref, "logits");
  auto cached = llada::answer_logits(m.w, m.cfg, cache, answer);
  auto uncached = llada::prefix_dlm_logits(m.w, m.cfg, prefix, answer);
  const double d1 = (cached.to(at::kDouble) - ref_logits).abs().max().item<double>();
  const double d2 = (uncached.to(at::kDouble) - ref_logits).abs().max().item<double>();
  std::cout << "[llada] max |C++ fp32 - Python float64| logits: cached " << d1 << ", uncached "
            << d2 << " (logit std " << ref_logits.std().item<double>() << ")\n";
  CHECK(d1 < 2e-4);
  CHECK(d2 < 2e-4);

  for (size_t i = 0; i < cases.size(); ++i) {
    auto r = read_tensor(*ref, "gen." + std::to_string(i));
    INFO("generation case " << i << ": C++ " << ours[i] << " Python " << r);
    CHECK(at::equal(ours[i], r));
  }
  CHECK((ours[0] == mask).sum().item<int64_t>() == 0);
  CHECK(stop_res.stop_token);
}

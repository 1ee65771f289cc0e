// The whole pipeline under fp32 compute with the fp32 prefix cache (--cache-dtype fp32, the
// seed's 8.2 fallback) against the independent float64 Python reference
// (tests/llada/reference_llada.py): the pipeline's own prefix embeddings (visual tokens + prompt)
// go into the reference LLaDA, and the answer ids must be identical, step for step.
#include <ATen/ATen.h>
#include "tests/common/catch.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/model/model.h"
#include "engine/runtime/pipeline.h"
#include "engine/safetensors/safetensors_file.h"
#include "engine/safetensors/safetensors_writer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/common/test_images.h"
#include "tests/llada/random_llada.h"
#include "tests/runtime/runtime_fixture.h"

using namespace shirg;
namespace fs = std::filesystem;

namespace {

struct Case {
  SelectionMode mode;
  GenerationOptions g;
  const char* remasking;
  const char* schedule;
};

GenerationOptions gen(int64_t block, int64_t steps, Remasking r, TransferSchedule s,
                      double temperature, uint64_t seed) {
  GenerationOptions g;
  g.gen_length = 16;
  g.block_length = block;
  g.steps = steps;
  g.remasking = r;
  g.schedule = s;
  g.temperature = temperature;
  g.seed = seed;
  return g;
}

at::Tensor read_ids(const st::SafetensorsFile& f, const std::string& name) {
  const auto* v = f.find(name);
  REQUIRE(v != nullptr);
  REQUIRE(v->dtype == st::DType::I64);
  return at::from_blob(const_cast<std::byte*>(v->data), v->shape, at::kLong).clone();
}

}  // namespace

TEST_CASE("fp32 compute with the fp32 prefix cache reproduces the float64 reference ids",
          "[pipeline][python]") {
  const auto model = testing::tiny_model();  // fp32 compute
  Pipeline p(model, {}, kv::CacheDType::kFp32);
  const fs::path dir = fs::path(SHIRG_BINARY_DIR) / "tests" / "runtime" / "pipeline_reference";
  fs::create_directories(dir);
  testing::write_llada_config_json(model->config.llm, (dir / "config.json").string());

  const std::vector<Case> cases = {
      {SelectionMode::kShirg,
       gen(8, 8, Remasking::kLowConfidence, TransferSchedule::kUniform, 0, 0), "low_confidence",
       "uniform"},
      {SelectionMode::kBaseline384, gen(16, 6, Remasking::kMargin, TransferSchedule::kShift, 0, 0),
       "margin", "shift"},
      {SelectionMode::kShirg, gen(16, 8, Remasking::kEntropy, TransferSchedule::kUniform, 0.8, 42),
       "entropy", "uniform"},
  };
  const auto& sp = model->ids;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    INFO("case " << i << " mode " << selection_mode_name(c.mode));
    GenerateRequest r;
    r.image_bytes = testing::chart_png();
    r.question = "What is the title of the chart?";
    r.selection.mode = c.mode;
    r.generation = c.g;
    REQUIRE(p.validate(r).message == "");
    std::map<std::string, at::Tensor> dump;
    RunControl ctl;
    ctl.dump = &dump;
    GenerateResult out;
    const Status s = p.run(r, ctl, &out);
    REQUIRE(s.message == "");
    // The cache really is 32-bit: 2 (K, V) x layers x P x D x 4 bytes.
    const auto& lc = model->config.llm;
    CHECK(out.cache_bytes == 2 * lc.n_layers * out.prefix_tokens * lc.d_model * 4);

    const at::Tensor prefix = dump.at("prefix_embeddings").contiguous();
    const at::Tensor ids = dump.at("answer_ids").contiguous();
    const fs::path inputs = dir / ("inputs_" + std::to_string(i) + ".safetensors");
    {
      const at::Tensor answer = at::full({r.generation.gen_length}, sp.mask, at::kLong);
      st::SafetensorsWriter w;
      w.add("prefix", st::DType::F32, prefix.sizes().vec(), prefix.data_ptr(), prefix.nbytes());
      w.add("answer_ids", st::DType::I64, answer.sizes().vec(), answer.data_ptr(), answer.nbytes());
      w.write(inputs.string());
    }
    const fs::path gens = dir / ("gens_" + std::to_string(i) + ".json");
    {
      const auto& g = r.generation;  // resolved by validate()
      std::ofstream f(gens);
      f.precision(17);
      f << "[{\"gen_length\":" << g.gen_length << ",\"block_length\":" << g.block_length
        << ",\"steps\":" << g.steps << ",\"remasking\":\"" << c.remasking << "\",\"schedule\":\""
        << c.schedule << "\",\"shift\":" << g.shift << ",\"temperature\":" << g.temperature
        << ",\"seed\":" << g.seed << ",\"mask\":" << sp.mask
        << ",\"vocab_limit\":" << model->tokenizer->vocab_size()
        << ",\"stop_early\":true,\"stop\":[";
      for (std::size_t j = 0; j < sp.stop.size(); ++j) f << (j ? "," : "") << sp.stop[j];
      f << "]}]\n";
    }
    const fs::path ref_out = dir / ("reference_" + std::to_string(i) + ".safetensors");
    fs::remove(ref_out);
    std::ostringstream cmd;
    cmd << SHIRG_PYTHON << " " << SHIRG_SOURCE_DIR << "/tests/llada/reference_llada.py"
        << " --weights " << fs::path(model->dir) / "model.safetensors"
        << " --config " << dir / "config.json"
        << " --inputs " << inputs << " --gens " << gens << " --out " << ref_out;
    INFO(cmd.str());
    REQUIRE(std::system(cmd.str().c_str()) == 0);
    const auto ref = st::SafetensorsFile::open(ref_out.string());
    const at::Tensor want = read_ids(*ref, "gen.0");
    INFO("pipeline " << ids << " reference " << want);
    CHECK(at::equal(ids, want));
    CHECK((ids != sp.mask).sum().item<int64_t>() > 0);  // something was generated
  }
}

// shirg-make-checkpoint (streaming writer): its checkpoints load through the normal loader,
// shards + index are consistent, --vision-layers sets the SigLIP depth apart from --layers, the
// values are deterministic per seed, and the writer's peak RSS does not grow with the model.
#include "tests/common/catch_torch.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "engine/model/model.h"
#include "engine/safetensors/checkpoint.h"
#include "engine/safetensors/safetensors_file.h"

namespace fs = std::filesystem;
using namespace shirg;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("shirg_test_writer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  return p;
}

struct Run {
  int status = -1;      // exit status, -1 if it did not exit normally
  int64_t max_rss = 0;  // the writer's peak RSS in bytes (wait4's ru_maxrss, KiB on Linux)
};

// Runs the writer (fork + exec, output to /dev/null) with `args` split on spaces.
Run run_writer(const std::string& args) {
  std::vector<std::string> argv_s = {SHIRG_MAKE_CHECKPOINT};
  std::istringstream in(args);
  for (std::string a; in >> a;) argv_s.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Run r;
  int status = 0;
  struct rusage ru {};
  if (pid < 0 || ::wait4(pid, &status, 0, &ru) != pid) return r;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.max_rss = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  return r;
}

int writer_status(const std::string& args) {
  return run_writer(args).status;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

LoadOptions fp32(const std::string& dir) {
  LoadOptions o;
  o.model_dir = dir;
  o.dtype = at::kFloat;
  return o;
}

}  // namespace

TEST_CASE("a streamed, sharded checkpoint has a consistent index and loads through the loader") {
  const fs::path dir = temp_dir("sharded");
  REQUIRE(writer_status("--preset tiny --seed 3 --shards 3 --out " + dir.string()) == 0);
  const auto idx = read_json(dir / "model.safetensors.index.json");
  const auto& map = idx.at("weight_map");
  // Every shard exists and holds exactly the tensors the index names for it; total_size adds up.
  std::set<std::string> shards;
  for (const auto& [name, file] : map.items()) shards.insert(file.get<std::string>());
  CHECK(shards == std::set<std::string>{"model-00001-of-00003.safetensors",
                                        "model-00002-of-00003.safetensors",
                                        "model-00003-of-00003.safetensors"});
  int64_t bytes = 0;
  std::size_t tensors = 0;
  for (const auto& shard : shards) {
    auto f = st::SafetensorsFile::open((dir / shard).string());
    for (const auto& t : f->tensors()) {
      INFO(t.name);
      REQUIRE(map.contains(t.name));
      CHECK(map.at(t.name).get<std::string>() == shard);
      bytes += static_cast<int64_t>(t.nbytes);
      ++tensors;
    }
  }
  CHECK(tensors == map.size());
  CHECK(idx.at("metadata").at("total_size").get<int64_t>() == bytes);
  CHECK_FALSE(fs::exists(dir / "model.safetensors"));

  // The same seed in one file: the same tensors, byte for byte, and the same loaded model.
  const fs::path one = temp_dir("single");
  REQUIRE(writer_status("--preset tiny --seed 3 --out " + one.string()) == 0);
  auto a = st::Checkpoint::open_dir(dir.string());
  auto b = st::Checkpoint::open_dir(one.string());
  REQUIRE(a.names() == b.names());
  for (const auto& name : a.names()) {
    INFO(name);
    REQUIRE(a.find(name)->nbytes == b.find(name)->nbytes);
    CHECK(std::memcmp(a.find(name)->data, b.find(name)->data, a.find(name)->nbytes) == 0);
  }
  auto ma = load_model(fp32(dir.string()));
  auto mb = load_model(fp32(one.string()));
  CHECK(at::equal(ma->llm.blocks[1].wqkv.to_plain(), mb->llm.blocks[1].wqkv.to_plain()));
  CHECK(at::equal(ma->vision.layers[0].qkv.weight, mb->vision.layers[0].qkv.weight));
  fs::remove_all(dir);
  fs::remove_all(one);
}

TEST_CASE("the writer is deterministic per seed") {
  const fs::path a = temp_dir("seed_a"), b = temp_dir("seed_b"), c = temp_dir("seed_c");
  REQUIRE(writer_status("--preset tiny --seed 5 --out " + a.string()) == 0);
  REQUIRE(writer_status("--preset tiny --seed 5 --out " + b.string()) == 0);
  REQUIRE(writer_status("--preset tiny --seed 6 --out " + c.string()) == 0);
  CHECK((read_all(a / "model.safetensors") == read_all(b / "model.safetensors")));  // no 1 MB dump
  CHECK((read_all(a / "model.safetensors") != read_all(c / "model.safetensors")));
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST_CASE("the vision-layers flag sets the SigLIP depth apart from the layers flag") {
  const fs::path dir = temp_dir("depths");
  REQUIRE(writer_status("--preset tiny --layers 1 --vision-layers 4 --out " + dir.string()) == 0);
  const auto cfg = read_json(dir / "config.json");
  CHECK(cfg.at("n_layers").get<int64_t>() == 1);
  CHECK(cfg.at("vision_config").at("num_hidden_layers").get<int64_t>() ==
        5);  // 4 + the dropped last layer
  auto ckpt = st::Checkpoint::open_dir(dir.string());
  const std::string v = "model.vision_tower.vision_tower.vision_model.encoder.layers.";
  const std::string t = "model.transformer.blocks.";
  CHECK(ckpt.find(v + "3.self_attn.q_proj.weight") != nullptr);
  CHECK(ckpt.find(v + "4.self_attn.q_proj.weight") == nullptr);
  CHECK(ckpt.find(t + "0.q_proj.weight") != nullptr);
  CHECK(ckpt.find(t + "1.q_proj.weight") == nullptr);
  auto m = load_model(fp32(dir.string()));
  CHECK(m->vision.layers.size() == 4);
  CHECK(m->llm.blocks.size() == 1);

  // --layers alone still sets both depths (the real-dims-Nl benchmark models).
  const fs::path both = temp_dir("both");
  REQUIRE(writer_status("--preset tiny --layers 3 --out " + both.string()) == 0);
  const auto cfg2 = read_json(both / "config.json");
  CHECK(cfg2.at("n_layers").get<int64_t>() == 3);
  CHECK(cfg2.at("vision_config").at("num_hidden_layers").get<int64_t>() == 4);

  // Bad depths are refused with a usage error, nothing written.
  const fs::path bad = temp_dir("bad");
  CHECK(writer_status("--preset tiny --vision-layers 0 --out " + bad.string()) == 2);
  CHECK(writer_status("--preset tiny --layers -1 --out " + bad.string()) == 2);
  CHECK_FALSE(fs::exists(bad));
  fs::remove_all(dir);
  fs::remove_all(both);
}

TEST_CASE("the writer's peak RSS does not grow with the model it writes") {
  // small preset at 2 and 8 layers each: ~0.12 vs ~0.45 GB of bf16, the largest tensor (~20 MB in
  // fp32) the same. The writer streams, so its peak is its fixed cost (LibTorch, the tokenizer)
  // plus about one tensor; the former writer held the whole model and a copy (~2.5x the file).
  const fs::path d2 = temp_dir("rss2"), d8 = temp_dir("rss8");
  const Run r2 = run_writer("--preset small --layers 2 --out " + d2.string());
  const Run r8 = run_writer("--preset small --layers 8 --out " + d8.string());
  REQUIRE(r2.status == 0);
  REQUIRE(r8.status == 0);
  const int64_t f2 = static_cast<int64_t>(fs::file_size(d2 / "model.safetensors"));
  const int64_t f8 = static_cast<int64_t>(fs::file_size(d8 / "model.safetensors"));
  INFO("peak RSS " << (r2.max_rss >> 20) << " / " << (r8.max_rss >> 20) << " MiB, checkpoint "
                   << (f2 >> 20) << " / " << (f8 >> 20) << " MiB");
  REQUIRE(f8 - f2 > (int64_t{300} << 20));
  CHECK(r8.max_rss - r2.max_rss < (int64_t{64} << 20));
  CHECK(r8.max_rss < f8);
  fs::remove_all(d2);
  fs::remove_all(d8);
}

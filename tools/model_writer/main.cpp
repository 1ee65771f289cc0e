// shirg-make-checkpoint: writes a LaViDa-format checkpoint directory with random weights.
//   shirg-make-checkpoint --preset tiny|small|demo|real-dims --out DIR [--seed N] [--layers N]
//                         [--vision-layers N] [--shards N] [--adapter DIR] [--corpus FILE]
//                         [--dtype F32|BF16] [--zeros]
// Tensors are drawn and written one at a time: peak memory is about the largest tensor in fp32.
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "tools/model_writer/checkpoint_writer.h"

namespace {
void usage() {
  std::printf(
      "usage: shirg-make-checkpoint --preset tiny|small|demo|real-dims --out DIR [options]\n"
      "  --seed N      random seed of the weights (default 0)\n"
      "  --layers N    override the LLaDA depth (blocks = N); also sets the SigLIP encoder layers "
      "in the\n"
      "                checkpoint to N unless --vision-layers is given\n"
      "  --vision-layers N  SigLIP encoder layers in the checkpoint = N (config num_hidden_layers "
      "= "
      "N + 1,\n"
      "                as LaViDa drops the tower's last layer); real-dims default 26\n"
      "  --shards N    write N safetensors shards + model.safetensors.index.json (default 1)\n"
      "  --adapter DIR also write a PEFT LoRA adapter (projector, SigLIP q/k/v, coord_rotary) to "
      "DIR\n"
      "  --dtype F32|BF16  on-disk dtype of the weights (default: the preset's; tiny F32, others "
      "BF16)\n"
      "  --corpus FILE text the byte-level BPE tokenizer is trained on (default: the bundled "
      "corpus)\n"
      "  --zeros       every weight zero, written as holes of sparse files: a full-size "
      "checkpoint\n"
      "                in seconds, for timing on a device after drawing random weights there\n"
      "                (bench_pipeline --randomize-weights)\n"
      "The weights are random: answers from such a model are meaningless by construction.\n"
      "Tensors are drawn and written one at a time (header first): peak memory is about the "
      "largest\n"
      "tensor in fp32 (real-dims: the 126464 x 4096 embedding, ~2 GiB), not the checkpoint.\n");
}
}  // namespace

int main(int argc, char** argv) {
  std::string preset;
  shirg::writer::WriteOptions o;
  o.corpus_path = SHIRG_DEFAULT_CORPUS;
  int64_t layers = 0, vision_layers = 0;
  auto positive = [](const std::string& flag, const std::string& v) {
    const int64_t n = std::stoll(v);
    if (n < 1) throw std::invalid_argument(flag + " must be >= 1");
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--preset")
        preset = next();
      else if (a == "--out")
        o.out_dir = next();
      else if (a == "--seed")
        o.seed = std::stoull(next());
      else if (a == "--layers")
        layers = positive(a, next());
      else if (a == "--vision-layers")
        vision_layers = positive(a, next());
      else if (a == "--shards")
        o.shards = std::stoll(next());
      else if (a == "--adapter")
        o.adapter_dir = next();
      else if (a == "--corpus")
        o.corpus_path = next();
      else if (a == "--dtype")
        o.dtype = next();
      else if (a == "--zeros")
        o.zeros = true;
      else if (a == "--help" || a == "-h") {
        usage();
        return 0;
      } else {
        std::fprintf(stderr, "error: unknown argument %s\n", a.c_str());
        usage();
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "error: bad value for %s\n", a.c_str());
      return 2;
    }
  }
  if (preset.empty() || o.out_dir.empty()) {
    usage();
    return 2;
  }
  try {
    at::set_num_threads(1);
    const auto p = shirg::writer::preset_by_name(preset, layers, vision_layers);
    const auto r = shirg::writer::write_checkpoint(p, o);
    std::printf(
        "wrote %s: preset %s, %lld tensors, %lld parameters, %.1f MiB, vocab %lld%s\n",
        o.out_dir.c_str(), preset.c_str(), static_cast<long long>(r.tensors),
        static_cast<long long>(r.parameters), static_cast<double>(r.bytes) / (1 << 20),
        static_cast<long long>(r.vocab_size),
        r.adapter_modules
            ? (", adapter with " + std::to_string(r.adapter_modules) + " LoRA modules").c_str()
            : "");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

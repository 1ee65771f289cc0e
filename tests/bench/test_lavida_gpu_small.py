"""bench/gpu/prepare_lavida.sh and bench/gpu/lavida_gpu.py --small on the CPU: LaViDa's own files
extracted from a fetched git directory, its SigLIP tower, projector and LLaDA built on the meta
device and materialised on the CPU, every stage and both requests run through LaViDa's generate().
Checks the structure (parameter counts of the real shape built on the meta device and of the
small widths built on the CPU, LaViDa's deleted last vision layer, 17 model calls for 16 steps),
the JSON's keys, and the clear errors; not timings.

  test_lavida_gpu_small.py LAVIDA_GIT_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREPARE = os.path.join(ROOT, "bench", "gpu", "prepare_lavida.sh")
SCRIPT = os.path.join(ROOT, "bench", "gpu", "lavida_gpu.py")


def run(cmd, env=None, timeout=240):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def expect(cond, what, output=""):
    if not cond:
        print(f"FAIL: {what}\n{output[-3000:]}")
        sys.exit(1)


def small_param_counts():
    """Parameters of lavida_build.small() at 2 LLaDA and 2 SigLIP layers, counted from the
    architecture (LaViDa builds 3 SigLIP layers and deletes the last; its pooling head is gone)."""
    d, heads_mlp, vocab = 128, 256, 4096
    llada = 2 * vocab * d + d + 2 * (4 * d * d + 3 * d * heads_mlp + 2 * d)
    h, inter, patch, positions = 64, 128, 14, 27 * 27
    layer = 4 * (h * h + h) + 2 * 2 * h + (h * inter + inter) + (inter * h + h)
    vision = (h * 3 * patch * patch + h) + positions * h + 2 * layer + 2 * h  # + post_layernorm
    projector = (h * d + d) + (d * d + d)
    return {"llada": llada * 4, "vision": vision * 4, "projector": projector * 4}  # fp32 bytes


def main():
    git_dir = sys.argv[1]
    work = tempfile.mkdtemp(prefix="lavida_gpu_small.")
    src = os.path.join(work, "lavida")
    env = dict(os.environ, LAVIDA_GIT=git_dir)

    rc, out = run(["bash", PREPARE, src], env=env)
    expect(rc == 0, "prepare_lavida.sh succeeds", out)
    for rel in ("llava/model/language_model/llada/modeling_llada.py", "llava/model/language_model/llada/generate.py",
                "llava/model/multimodal_encoder/siglip_encoder.py", "LICENSE", ".lavida_source"):
        expect(os.path.isfile(os.path.join(src, rel)), f"prepare_lavida.sh extracted {rel}", out)
    rc, out = run(["bash", PREPARE, src], env=env)
    expect(rc == 0, "prepare_lavida.sh replaces a folder it made", out)

    foreign = os.path.join(work, "foreign")
    os.makedirs(foreign)
    open(os.path.join(foreign, "keep.txt"), "w").close()
    rc, out = run(["bash", PREPARE, foreign], env=env)
    expect(rc == 1 and "refusing" in out and os.path.exists(os.path.join(foreign, "keep.txt")),
           "prepare_lavida.sh refuses a non-empty folder it did not make", out)
    rc, out = run(["bash", PREPARE, os.path.join(work, "x")], env=dict(env, LAVIDA_GIT=os.path.join(work, "none")))
    expect(rc == 1 and "no LaViDa commit" in out, "prepare_lavida.sh names a missing git directory", out)

    # The real LaViDa-8B shape, built on the meta device only (no storage): SigLIP so400m with 26
    # layers, the projector and LLaDA-8B hold 8,434,832,928 parameters, the project's full-shape
    # checkpoint's 8,434,837,024 (docs/benchmarks.md) less image_newline's 4,096.
    sys.path.insert(0, os.path.join(ROOT, "bench", "gpu"))
    import torch
    import lavida_build
    import lavida_import
    lavida = lavida_import.load(src, lavida_build.check_build)
    meta, widths = torch.device("meta"), lavida_build.real()
    parts = [lavida_build.build_vision(lavida, widths, meta, torch.bfloat16, 0),
             lavida_build.build_projector(lavida, widths, meta, torch.bfloat16, 0),
             lavida_build.build_llada(lavida, widths, meta, torch.bfloat16, 0)]
    counts = [sum(p.numel() for p in part.parameters()) for part in parts]
    expect(counts == [397747744, 21504000, 8015581184] and sum(counts) == 8434832928,
           f"real-shape parameter counts (vision, projector, LLaDA) {counts}")
    expect(len(parts[0].vision_model.encoder.layers) == 26 and len(parts[2].transformer.blocks) == 32,
           "26 SigLIP layers kept (27 built, the last deleted), 32 LLaDA blocks")
    del parts

    base = [sys.executable, SCRIPT, "--lavida-src", src, "--device", "cpu", "--dtype", "fp32", "--small"]
    rc, out = run(base + ["--prefixes", "1000,2438"])
    expect(rc == 2 and "cannot hold 1216 visual tokens" in out, "a prefix shorter than its visual tokens", out)
    rc, out = run([sys.executable, SCRIPT, "--lavida-src", os.path.join(work, "none"), "--device", "cpu"])
    expect(rc != 0 and "prepare_lavida.sh" in out, "a missing --lavida-src names prepare_lavida.sh", out)
    if not torch.cuda.is_available():
        rc, out = run(base[:4] + ["--device", "cuda"])
        expect(rc != 0 and "sees no CUDA device" in out, "--device cuda without CUDA says so", out)

    js = os.path.join(work, "lavida.json")
    rc, out = run(base + ["--reps", "1", "--warmup", "0", "--json", js])
    expect(rc == 0, "lavida_gpu.py --small runs", out)
    expect("SHIRG-shaped request" in out and "full-672-shaped request" in out, "the table is printed", out)
    with open(js) as f:
        res = json.load(f)

    expect(set(res["stages"]) == {"vision_384", "vision_672", "projector_1216", "projector_2304", "prefill_1350",
                                  "step_1350", "prefill_2438", "step_2438"}, f"stage keys {sorted(res['stages'])}")
    for key, s in res["stages"].items():
        expect(s["median_ms"] > 0 and s["min_ms"] <= s["median_ms"] <= s["max_ms"] and s["peak_bytes"] > 0,
               f"stage {key} has a positive median inside its range and a peak: {s}")
    expect(res["stages"]["vision_384"]["tokens"] == 729 and res["stages"]["vision_672"]["tokens"] == 2304,
           "SigLIP token counts 729 / 2,304")
    for name, prefix, visual in (("shirg", 1350, 1216), ("full672", 2438, 2304)):
        r = res["requests"][name]
        expect(r["prefix_tokens"] == prefix and r["visual_tokens"] == visual and r["text_tokens"] == prefix - visual,
               f"request {name} shape: {r}")
        expect(r["model_calls"] == 17 == r["expected_model_calls"], f"request {name}: 1 prefill + 16 step calls: {r}")
        parts = sum(r[k]["median_ms"] for k in ("vision", "projector", "prefill", "steps"))
        expect(all(r[k]["median_ms"] > 0 for k in ("total", "vision", "projector", "prefill", "steps", "step"))
               and parts <= r["total"]["median_ms"] * 1.05,
               f"request {name}: positive parts that add up to at most the total: {r}")
    weights = res["build"]["weights_bytes"]
    want = small_param_counts()
    for part in ("llada", "vision", "projector"):
        expect(weights[part] == want[part], f"{part} weights {weights[part]} bytes, expected {want[part]}")
    expect(res["shape"]["llada"]["layers"] == 2 and res["shape"]["vision"]["layers_used"] == 2, "depths recorded")
    expect(any(n.startswith("deepspeed:") for n in res["standins"])
           and any(n.startswith("transformers:") for n in res["standins"]), "what was stood in is recorded")
    print("ok: lavida_gpu.py --small on the CPU;", ", ".join(f"{k} {v['median_ms']:.0f} ms"
                                                          for k, v in res["stages"].items()))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Times LaViDa's OWN code (its SigLIP tower, mlp2x_gelu projector, LLaDA model with its prefix
cache and its generate()) on one device, at the real LaViDa-8B widths with random weights made on
that device, for the side-by-side ratio of the GPU check. LaViDa's source is not in this repository:
make the folder with bench/gpu/prepare_lavida.sh.

  lavida_gpu.py --lavida-src DIR [--device cuda] [--dtype bf16] [--layers 32] [--vision-layers 26]
                [--prefixes 1350,2438] [--visual-tokens 1216,2304] [--steps 16] [--gen-length 32]
                [--reps 3] [--warmup 1] [--seed N] [--small] [--json OUT]

Measured (wall time between device synchronisations; median and min-max over --reps runs after
--warmup; peak memory per phase, weights included: the CUDA allocator's peak, or the process's
peak RSS on the CPU):
  vision_384 / vision_672   SigLIP on one 384x384 view (729 tokens, LaViDa's own embedding) and
                            one 672x672 view (2,304 tokens; LaViDa's tower has no position
                            interpolation, so an HF-style bicubic one is added: lavida_build.py)
  projector_N               the projector on N tokens (the two --visual-tokens counts)
  prefill_P                 model(prefix embeddings, use_cache=True): what generate() runs first
  step_P                    one cached denoising forward: wte(32 answer ids) + model(past_key_values)
  requests.shirg / .full672 one request each, end to end: SigLIP 672 -> projector on the first N
                            visual tokens (LaViDa has no selection; SHIRG keeps 1,216 = 64 + 1,152
                            of the 2,304, here simply the first N) -> prefix = visual + (P - N) text
                            embeddings -> generate(prefix_lm=True, step_ratio=steps/gen_length,
                            block = gen length, schedule "shift" 0.33 as LaViDa's evaluation runs
                            it); parts: vision, projector (with the text embedding and concat),
                            prefill (first model call), steps (everything after it), step = steps/N.
--small shrinks the widths and depths (token counts unchanged) for a CPU check of the same code.
Exit status: 0, or 1 when a request did not make 1 + --steps model calls.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import time

os.environ["PYTHONBREAKPOINT"] = "0"  # generate() calls breakpoint() on a failed topk: never stop
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# On the CPU, large temporaries are page-faulted in afresh under glibc's malloc defaults, which is
# slow on this project's virtual machines (docs/benchmarks.md, "glibc malloc and large temporaries");
# a CPU run re-executes itself with the project's malloc settings, as training/train.py does, unless
# SHIRG_MALLOC_TUNING=0 or the operator set MALLOC_* already. A CUDA run is left alone.
MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
              "MALLOC_TRIM_THRESHOLD_": str((1 << 31) - 1), "MALLOC_TOP_PAD_": str(256 << 20)}


def _cpu_run(argv):
    for i, a in enumerate(argv):
        if a == "--device" and i + 1 < len(argv):
            return argv[i + 1] == "cpu"
        if a.startswith("--device="):
            return a.split("=", 1)[1] == "cpu"
    return False


if (__name__ == "__main__" and _cpu_run(sys.argv[1:]) and os.environ.get("SHIRG_MALLOC_TUNING") != "0"
        and not any(os.environ.get(k) for k in MALLOC_ENV)):
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **MALLOC_ENV})

import torch  # noqa: E402

import lavida_build as build  # noqa: E402
import lavida_import  # noqa: E402
from lavida_report import table  # noqa: E402

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
GIB = 2 ** 30
HIGH_RES = 672  # the full-672 view: 48 x 48 patches of 14


class Meter:
    """Clock and memory of one device. CUDA: synchronize + wall clock, events inside a request,
    the allocator's peak. CPU: wall clock (ops are synchronous), the process's peak RSS (VmHWM,
    reset through /proc/self/clear_refs)."""

    def __init__(self, device):
        self.device = device
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def ms(self, a, b):
        return a.elapsed_time(b) if self.cuda else (b - a) * 1e3

    def reset_peak(self):
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass  # peak then covers the whole process so far

    def peak_bytes(self):
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device)
        return _status_kib("VmHWM") * 1024

    def now_bytes(self):
        if self.cuda:
            return torch.cuda.memory_allocated(self.device)
        return _status_kib("VmRSS") * 1024

    def peak_kind(self):
        return ("torch.cuda.max_memory_allocated (weights included)" if self.cuda
                else "process peak RSS, VmHWM (weights and Python included)")


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            m = re.search(rf"^{field}:\s+(\d+)", f.read(), re.M)
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def stats(values):
    return {"median_ms": statistics.median(values), "min_ms": min(values), "max_ms": max(values),
            "runs_ms": [round(v, 4) for v in values]}


def time_phase(meter, fn, warmup, reps):
    """fn() warmup + reps times; wall ms of the timed runs and the phase's peak memory."""
    meter.sync()
    meter.reset_peak()
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(reps):
        meter.sync()
        t0 = time.perf_counter()
        fn()
        meter.sync()
        runs.append((time.perf_counter() - t0) * 1e3)
    out = stats(runs)
    out["peak_bytes"] = meter.peak_bytes()
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lavida-src", required=True, help="folder made by bench/gpu/prepare_lavida.sh")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    ap.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    ap.add_argument("--layers", type=int, help="LLaDA layers (default 32; --small: 2)")
    ap.add_argument("--vision-layers", type=int, help="SigLIP layers used (default 26; --small: 2)")
    ap.add_argument("--prefixes", default="1350,2438", help="prefix lengths P of the SHIRG and full-672 requests")
    ap.add_argument("--visual-tokens", default="1216,2304", help="visual tokens in those prefixes")
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--gen-length", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--small", action="store_true", help="narrow widths and 2 layers: a quick CPU check")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)

    def ints(text, what):
        try:
            values = [int(v) for v in text.split(",")]
        except ValueError:
            ap.error(f"--{what}: expected two comma-separated integers, got {text!r}")
        if len(values) != 2 or min(values) <= 0:
            ap.error(f"--{what}: expected two positive integers (SHIRG-shaped, full-672-shaped), got {text!r}")
        return values
    a.prefixes = ints(a.prefixes, "prefixes")
    a.visual_tokens = ints(a.visual_tokens, "visual-tokens")
    for p, v in zip(a.prefixes, a.visual_tokens):
        if v >= p:
            ap.error(f"a prefix of {p} cannot hold {v} visual tokens plus a prompt")
    if max(a.visual_tokens) > (HIGH_RES // 14) ** 2:
        ap.error(f"--visual-tokens: at most {(HIGH_RES // 14) ** 2:,} (the {HIGH_RES}x{HIGH_RES} view)")
    if not 1 <= a.steps <= a.gen_length or int(a.gen_length * (a.steps / a.gen_length)) != a.steps:
        ap.error(f"--steps {a.steps} with --gen-length {a.gen_length}: LaViDa's generate() runs "
                 "int(gen_length * step_ratio) steps; choose 1 <= steps <= gen_length that it reproduces")
    if a.reps < 1 or a.warmup < 0:
        ap.error("--reps must be >= 1 and --warmup >= 0")
    if a.layers is None:
        a.layers = 2 if a.small else 32
    if a.vision_layers is None:
        a.vision_layers = 2 if a.small else 26
    if a.layers < 1 or a.vision_layers < 1:
        ap.error("--layers and --vision-layers must be >= 1")
    return a


def resolve_device(name):
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise SystemExit(f"--device {name}: {e}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit(f"--device {name}: this torch ({torch.__version__}) sees no CUDA device")
        index = torch.cuda.current_device() if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise SystemExit(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s)")
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise SystemExit(f"--device {name}: cuda, cuda:N or cpu")
    return device


def device_info(device):
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return {"type": "cuda", "name": props.name, "total_bytes": props.total_memory,
                "capability": f"{props.major}.{props.minor}", "multiprocessors": props.multi_processor_count}
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            name = m.group(1).strip() if m else name
    except OSError:
        pass
    return {"type": "cpu", "name": name, "threads": torch.get_num_threads()}


def generate_kwargs(args, widths):
    return {"max_new_tokens": args.gen_length, "block_length": args.gen_length, "temperature": 0.0,
            "remasking": "low_confidence", "mask_id": widths.mask_id, "prefix_lm": True,
            "step_ratio": args.steps / args.gen_length, "schedule": "shift", "schedule_kwargs": {"shift": 0.33}}


def run(args):
    device = resolve_device(args.device)
    dtype = DTYPES[args.dtype]
    meter = Meter(device)
    widths = (build.small if args.small else build.real)(args.layers, args.vision_layers)

    lavida = lavida_import.load(args.lavida_src, build.check_build)
    for line in lavida.notes:
        print(f"[lavida_gpu] {line}", flush=True)

    torch.manual_seed(args.seed)
    meter.sync()
    meter.reset_peak()
    t0 = time.perf_counter()
    with torch.no_grad():  # not inference_mode: parameters made there could not leave it
        tower = build.build_vision(lavida, widths, device, dtype, args.seed)
        proj = build.build_projector(lavida, widths, device, dtype, args.seed + 1)
        model = build.build_llada(lavida, widths, device, dtype, args.seed + 2)
    meter.sync()
    built = {"seconds": time.perf_counter() - t0,
             "weights_bytes": {"vision": build.param_bytes(tower), "projector": build.param_bytes(proj),
                               "llada": build.param_bytes(model)},
             "device_bytes_after_build": meter.now_bytes(), "peak_bytes": meter.peak_bytes(),
             "host_rss_bytes_after_build": _status_kib("VmRSS") * 1024}
    built["weights_bytes"]["total"] = sum(built["weights_bytes"].values())
    print(f"[lavida_gpu] built on {device} in {built['seconds']:.1f} s: weights "
          f"{built['weights_bytes']['total'] / GIB:.2f} GiB, "
          f"host RSS {built['host_rss_bytes_after_build'] / GIB:.2f} GiB",
          flush=True)

    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed + 3)
    patch = widths.vision["patch_size"]
    pixels = {side: (torch.rand(1, 3, side, side, generator=gen, device=device) * 2 - 1).to(dtype)
              for side in (widths.vision["image_size"], HIGH_RES)}
    stages = {}

    def stage(key, fn, **extra):
        with torch.inference_mode():
            stages[key] = dict(time_phase(meter, fn, args.warmup, args.reps), **extra)
        print(f"[lavida_gpu] {key}: {stages[key]['median_ms']:.2f} ms", flush=True)

    for side, px in pixels.items():
        tokens = (side // patch) ** 2
        with torch.inference_mode():
            shape = tuple(build.tower_features(tower, px).shape)
        if shape != (1, tokens, widths.vision_hidden):
            raise RuntimeError(f"SigLIP {side}x{side}: features {shape}, expected {(1, tokens, widths.vision_hidden)}")
        stage(f"vision_{side}", lambda px=px: build.tower_features(tower, px), tokens=tokens, image=f"{side}x{side}")

    for n in args.visual_tokens:
        x = torch.randn(1, n, widths.vision_hidden, generator=gen, device=device).to(dtype)
        stage(f"projector_{n}", lambda x=x: proj(x), tokens=n)
        del x

    answer = torch.full((1, args.gen_length), widths.mask_id, dtype=torch.long, device=device)
    for p in args.prefixes:
        prefix = torch.randn(1, p, widths.d_model, generator=gen, device=device).to(dtype)
        cache = {}

        def prefill(prefix=prefix, cache=cache):
            cache.pop("kv", None)  # one cache alive at a time, as in a request
            cache["kv"] = model(None, input_embeddings=prefix, use_cache=True).attn_key_values
        stage(f"prefill_{p}", prefill, tokens=p)

        def step(cache=cache):
            model(None, input_embeddings=model.transformer.wte(answer), past_key_values=cache["kv"])
        stage(f"step_{p}", step, tokens=args.gen_length, prefix=p)
        del prefix, cache, prefill, step

    requests = {}
    kwargs = generate_kwargs(args, widths)
    text_ids = torch.randint(0, widths.mask_id, (1, max(args.prefixes)), generator=gen, device=device)
    for name, p, visual in (("shirg", args.prefixes[0], args.visual_tokens[0]),
                            ("full672", args.prefixes[1], args.visual_tokens[1])):
        requests[name] = time_request(meter, lavida, tower, proj, model, pixels[HIGH_RES], text_ids, p, visual,
                                      kwargs, args)
        r = requests[name]
        print(f"[lavida_gpu] request {name}: {r['total']['median_ms']:.1f} ms, {r['model_calls']} model calls",
              flush=True)

    malloc = {k: os.environ[k] for k in MALLOC_ENV if k in os.environ}
    return {"tool": "bench/gpu/lavida_gpu.py", "device": device_info(device), "dtype": args.dtype, "malloc_env": malloc,
            "small": args.small, "shape": widths.describe(), "peak_kind": meter.peak_kind(),
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                         "cuda": torch.version.cuda, "lavida_commit": lavida.commit},
            "standins": lavida.notes, "steps": args.steps, "gen_length": args.gen_length,
            "block_length": args.gen_length, "generate_kwargs": {k: v for k, v in kwargs.items() if k != "mask_id"},
            "reps": args.reps, "warmup": args.warmup, "seed": args.seed, "build": built,
            "stages": stages, "requests": requests}


def time_request(meter, lavida, tower, proj, model, pixels, text_ids, prefix_len, visual, kwargs, args):
    """One LaViDa request end to end (see the module docstring), --warmup + --reps times."""
    marks = []
    hooks = [model.register_forward_pre_hook(lambda mod, inp: marks.append(("call", meter.mark()))),
             model.register_forward_hook(lambda mod, inp, out: marks.append(("done", meter.mark())))]
    text = text_ids[:, :prefix_len - visual]

    def once():
        marks.clear()
        t0 = meter.mark()
        feats = build.tower_features(tower, pixels)
        t1 = meter.mark()
        embeds = torch.cat([proj(feats[:, :visual]), model.transformer.wte(text)], dim=1)
        t2 = meter.mark()
        out = lavida.generate.generate(model, inputs_embeds=embeds, **kwargs)
        t3 = meter.mark()
        return t0, t1, t2, t3, out

    parts = {k: [] for k in ("total", "vision", "projector", "prefill", "steps", "step")}
    calls = set()
    left_masked = []
    try:
        with torch.inference_mode():
            meter.sync()
            meter.reset_peak()
            for i in range(args.warmup + args.reps):
                meter.sync()
                w0 = time.perf_counter()
                t0, t1, t2, t3, out = once()
                meter.sync()
                wall = (time.perf_counter() - w0) * 1e3
                if out.shape != (1, args.gen_length):
                    raise RuntimeError(f"generate() returned {tuple(out.shape)}, expected (1, {args.gen_length})")
                if i < args.warmup:
                    continue
                done = [m for kind, m in marks if kind == "done"]
                calls.add(len(done))
                left_masked.append(int((out == kwargs["mask_id"]).sum()))
                steps_ms = meter.ms(done[0], t3)
                for key, value in (("total", wall), ("vision", meter.ms(t0, t1)), ("projector", meter.ms(t1, t2)),
                                   ("prefill", meter.ms(t2, done[0])), ("steps", steps_ms),
                                   ("step", steps_ms / args.steps)):
                    parts[key].append(value)
            peak = meter.peak_bytes()
    finally:
        for h in hooks:
            h.remove()
    result = {k: stats(v) for k, v in parts.items()}
    result.update({"prefix_tokens": prefix_len, "visual_tokens": visual, "text_tokens": prefix_len - visual,
                   "denoising_steps": args.steps, "model_calls": sorted(calls)[0] if len(calls) == 1 else sorted(calls),
                   "expected_model_calls": 1 + args.steps, "answer_masks_left": left_masked, "peak_bytes": peak})
    return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    res = run(args)
    print(table(res), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        print(f"[lavida_gpu] wrote {args.json}", flush=True)
    bad = [n for n, r in res["requests"].items() if r["model_calls"] != r["expected_model_calls"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

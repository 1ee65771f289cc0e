#!/usr/bin/env python3
"""Side by side: LaViDa's own code (../shared/bench/lavida-baseline results) and this project
(bench_stages --json), same machine, same run, real LaViDa-8B widths, per stage and dtype.

  compare_lavida.py --ours stages.json --lavida LAVIDA_RESULTS_DIR [--steps 16] [--markdown OUT]

LaViDa's stages at real depth are formed the way its harness's summarize.py forms them: the
median time outside the measured layers plus the real layer count times the mean measured layer
(SigLIP 26 layers, LLaDA 32), from the forward hooks of bench_lavida.py. Its "SHIRG request" is
what LaViDa would run for the same prefix: SigLIP at 672x672, the projector on 1,216 tokens, the
prefix forward at the SHIRG prefix length and `steps` cached steps (LaViDa has no selection).
The ratio is LaViDa's time / ours: above 1 means this project is faster.
"""
import argparse
import json
import os
import statistics
import sys

def load(path):
    with open(path) as f:
        return json.load(f)


def real_depth(r, prefix, measured, layers):
    """non-layer time + layers x the mean measured layer (seconds), from one timed() record."""
    mods = r["modules_s"]
    per = [mods[f"{prefix}{i}"] for i in range(measured)]
    return (r["total_s"] - sum(per)) + layers * statistics.mean(per)


def lavida_stages(results, dtype, prefixes, steps):
    out = {}
    v = os.path.join(results, f"vision672_{dtype}.json")
    if not os.path.exists(v):
        v = os.path.join(results, f"vision_{dtype}.json")
    if os.path.exists(v):
        r = load(v)["result"].get("672")
        if r and "error" not in r:
            out["vision"] = real_depth(r, "layer", 4, 26)
    p = os.path.join(results, f"proj_{dtype}.json")
    if os.path.exists(p):
        out["proj"] = {int(k): v["total_s"] for k, v in load(p)["result"].items()}
    ll = os.path.join(results, f"llada_{dtype}.json")
    if os.path.exists(ll):
        for P, r in load(ll)["result"]["prefixes"].items():
            out.setdefault("prefill", {})[int(P)] = real_depth(r["prefix"], "block", 2, 32)
            out.setdefault("step", {})[int(P)] = real_depth(r["step_cached"], "block", 2, 32)
    p0 = prefixes[0]
    if all(k in out for k in ("vision", "proj", "prefill", "step")) and p0 in out["prefill"] and 1216 in out["proj"]:
        out["request"] = out["vision"] + out["proj"][1216] + out["prefill"][p0] + steps * out["step"][p0]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ours", required=True, help="bench_stages --json output")
    ap.add_argument("--lavida", required=True, help="lavida-baseline results directory")
    ap.add_argument("--markdown", help="also write the table here")
    a = ap.parse_args()
    ours = load(a.ours)
    steps = ours["steps"]
    prefixes = ours["prefixes"]
    lines = [f"CPU: {ours['cpu']} (native bf16: {ours['native_bf16']}; auto = {ours['auto_dtype']}), "
             f"{ours['threads']} threads; memory read bandwidth {ours['read_gbps']:.1f} GB/s",
             "",
             "| dtype | stage | LaViDa's code (s) | this project (s) | range (s) | runs agree | ratio | goal |",
             "|---|---|---|---|---|---|---|---|"]
    missing = []
    for dtype, st in ours["dtypes"].items():
        lv = lavida_stages(a.lavida, dtype, prefixes, steps)
        if not lv:
            missing.append(dtype)
        rows = [("SigLIP 672x672, 26 layers", lv.get("vision"), st["vision_672"], 2.5)]
        for P in prefixes:
            rows.append((f"prefill P {P}", lv.get("prefill", {}).get(P), st["prefill"][str(P)], 2.0))
        for P in prefixes:
            rows.append((f"cached step P {P}", lv.get("step", {}).get(P), st["step"][str(P)], 2.5))
        rows.append((f"SHIRG request, {steps} steps", lv.get("request"), st["request_shirg"], 2.3))
        for name, theirs, mine, goal in rows:
            ratio = theirs / mine["s"] if theirs else None
            if ratio is None:
                verdict = ""
            elif not mine["stable"]:
                verdict = "not judged: our runs disagree, re-run"
            else:
                verdict = "met" if ratio >= goal else "NOT met"
            lines.append(
                f"| {dtype} | {name} | {'n/a' if theirs is None else f'{theirs:.2f}'} | {mine['s']:.2f} | "
                f"{mine['lo_s']:.2f}-{mine['hi_s']:.2f} | {'yes' if mine['stable'] else 'UNSTABLE'} | "
                f"{'n/a' if ratio is None else f'{ratio:.2f}x'} | "
                f"{verdict} (>= {goal}x) |")
    text = "\n".join(lines)
    print(text)
    if missing:
        print(f"\nno LaViDa results for: {', '.join(missing)} (run bench/compare_lavida.sh)", file=sys.stderr)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

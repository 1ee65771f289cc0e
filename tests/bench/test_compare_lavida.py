"""bench/compare_lavida.py on made-up results with known answers: LaViDa's stages formed from its
harness's per-module medians (non-layer time + real depth x mean layer), the SHIRG request from
the stages, the ratio per stage and dtype, UNSTABLE shown, a missing dtype reported."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "bench", "compare_lavida.py")


def timed(total, per_layer, prefix, n):
    return {"total_s": total, "totals_s": [total], "modules_s": {f"{prefix}{i}": per_layer for i in range(n)}}


def stage(s, stable=True):
    return {"s": s, "lo_s": s * 0.9, "hi_s": s * 1.1, "stable": stable, "how": "test"}


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def main():
    d = tempfile.mkdtemp()
    res = os.path.join(d, "lavida")
    os.makedirs(res)
    # LaViDa, fp32: vision 4 layers of 2 s + 2 s outside them -> 2 + 26 x 2 = 54 s.
    write(os.path.join(res, "vision672_fp32.json"), {"result": {"672": timed(10.0, 2.0, "layer", 4)}})
    write(os.path.join(res, "proj_fp32.json"), {"result": {"1216": {"total_s": 1.0}, "2304": {"total_s": 2.0}}})
    # prefill: 2 blocks of 2 s + 1 s outside -> 1 + 32 x 2 = 65 s; step: 0.5 + 32 x 0.25 = 8.5 s.
    llada = {"1290": {"prefix": timed(5.0, 2.0, "block", 2), "step_cached": timed(1.0, 0.25, "block", 2)},
             "2380": {"prefix": timed(9.0, 4.0, "block", 2), "step_cached": timed(1.5, 0.5, "block", 2)}}
    write(os.path.join(res, "llada_fp32.json"), {"result": {"n_layers": 2, "prefixes": llada}})
    per_dtype = {"vision_672": stage(27.0), "projector": {"1216": stage(0.5), "2304": stage(1.0)},
                 "prefill": {"1290": stage(32.5), "2380": stage(33.0, stable=False)},
                 "step": {"1290": stage(3.4), "2380": stage(4.0)}, "request_shirg": stage(100.0)}
    ours = {"cpu": "Test CPU", "native_bf16": True, "auto_dtype": "bf16", "threads": 2, "reps": 3, "steps": 16,
            "read_gbps": 20.0, "prefixes": [1290, 2380], "dtypes": {"bf16": per_dtype, "fp32": per_dtype}}
    write(os.path.join(d, "stages.json"), ours)
    md = os.path.join(d, "out.md")
    r = subprocess.run([sys.executable, SCRIPT, "--ours", os.path.join(d, "stages.json"), "--lavida", res,
                        "--markdown", md], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    print(out)
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): [c.strip() for c in line.strip("|").split("|")]
            for line in out.splitlines() if line.startswith("| fp32") or line.startswith("| bf16")}
    assert rows[("fp32", "SigLIP 672x672, 26 layers")][2] == "54.00", rows
    assert rows[("fp32", "SigLIP 672x672, 26 layers")][6] == "2.00x"
    assert rows[("fp32", "SigLIP 672x672, 26 layers")][7].startswith("NOT met")
    assert rows[("fp32", "prefill P 1290")][2] == "65.00" and rows[("fp32", "prefill P 1290")][6] == "2.00x"
    assert rows[("fp32", "prefill P 1290")][7].startswith("met")
    assert rows[("fp32", "prefill P 2380")][2] == "129.00"  # 1 + 32 x 4
    assert rows[("fp32", "prefill P 2380")][5] == "UNSTABLE"
    assert rows[("fp32", "prefill P 2380")][7].startswith("not judged")  # never "met" from noise
    assert rows[("fp32", "cached step P 1290")][2] == "8.50" and rows[("fp32", "cached step P 1290")][6] == "2.50x"
    # request = vision 54 + projector(1216) 1 + prefill(1290) 65 + 16 x 8.5 = 256
    assert rows[("fp32", "SHIRG request, 16 steps")][2] == "256.00", rows
    assert rows[("fp32", "SHIRG request, 16 steps")][6] == "2.56x"
    # No bf16 results from LaViDa: n/a, and said on stderr.
    assert rows[("bf16", "SigLIP 672x672, 26 layers")][2] == "n/a"
    assert "no LaViDa results for: bf16" in r.stderr
    assert "Test CPU" in out and open(md).read().strip() == out.strip()
    print("ok")


if __name__ == "__main__":
    main()

"""The training-side forward (training/lavida_model.py) and the server's engine give the same
numbers on a checkpoint: visual tokens, prefix embeddings and the step-0 answer logits, fp32,
max |difference| <= 1e-4, for baseline-384 and full-672 (base weights) and for SHIRG without
merging (adapter merged; the training side takes the server's kept cells and coordinates).

  python3 check_server_logits.py --offline BIN --model-dir DIR [--adapter-dir DIR]

The engine side runs shirg-offline --dtype fp32 --cache-dtype fp32 --dump.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "training"))

import torch  # noqa: E402

import lavida_model as lm  # noqa: E402
import safetensors_io  # noqa: E402
import shirg_select  # noqa: E402
import train  # noqa: E402
import vqa_data  # noqa: E402

TOL = 1e-4


def run_offline(a, img_path, question, mode, adapter, dump):
    cmd = [a.offline, "--model-dir", a.model_dir, "--image", img_path, "--question", question, "--mode", mode,
           "--dtype", "fp32", "--cache-dtype", "fp32", "--threads", "1", "--gen-length", "8", "--steps", "8",
           "--dump", dump]
    if adapter:
        cmd += ["--adapter-dir", adapter]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"shirg-offline failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return safetensors_io.load(dump)


def python_side(model, img, mode, dumped):
    side = 384 if mode == "baseline-384" else 672
    feats = model.vision(train.to_pixels(img, side).unsqueeze(0))[0]
    if mode == "no-merge":
        kept = dumped["selection_kept_indices"].long()
        coords = dumped["selection_coords"].float()
        hi = feats[kept] + model.coord_rotary(lm.coord_rotary_features(coords[64:]))
        vis = model.projector(torch.cat([shirg_select.scaffold(feats, 48), hi], dim=0))
    else:
        vis = model.projector(feats)
    return vis


def max_diff(a, b):
    if tuple(a.shape) != tuple(b.shape):
        return float("inf")
    return float((a.float() - b.float()).abs().max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offline", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--adapter-dir")
    a = ap.parse_args()
    torch.set_num_threads(1)
    tok = __import__("json").load(open(os.path.join(a.model_dir, "tokenizer.json")))
    mask_id = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|mdm_mask|>")
    base = lm.load_checkpoint(a.model_dir)
    merged = lm.load_checkpoint(a.model_dir, a.adapter_dir) if a.adapter_dir else None
    failures, checked = [], 0
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for i, family in enumerate(vqa_data.FAMILIES):
            img, ex = vqa_data.make_example(99, i, family)
            path = os.path.join(tmp, f"{family}.png")
            img.save(path)
            modes = [("baseline-384", None, base), ("full-672", None, base)]
            if merged is not None:
                modes.append(("no-merge", a.adapter_dir, merged))
            for mode, adapter, model in modes:
                d = run_offline(a, path, ex["question"], mode, adapter, os.path.join(tmp, "dump.safetensors"))
                vis = python_side(model, img, mode, d)
                ids = d["prompt_ids"].tolist()
                prefix_dump = d["prefix_embeddings"].float()
                # where the engine spliced the visual tokens (the row equal to its first visual token)
                rows = (prefix_dump == d["visual_tokens"].float()[0]).all(dim=1).nonzero()
                pos = int(rows[0]) if rows.numel() else 0
                prefix = model.embed_prefix(ids, pos, vis)
                answer = torch.full((8,), mask_id, dtype=torch.long)
                emb = torch.cat([prefix, model.llm.wte(answer)]).unsqueeze(0)
                logits = model.llm(emb, [prefix.shape[0]], 8)[0]
                diffs = {"visual_tokens": max_diff(vis, d["visual_tokens"]),
                         "prefix_embeddings": max_diff(prefix, prefix_dump),
                         "step_0_logits": max_diff(logits, d["step_0_logits"])}
                checked += 1
                line = f"{family:8s} {mode:13s} " + " ".join(f"{k} {v:.2e}" for k, v in diffs.items())
                print(line)
                if any(v > TOL for v in diffs.values()):
                    failures.append(line)
    print(f"{checked - len(failures)} passed, {len(failures)} failed")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

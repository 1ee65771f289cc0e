#!/usr/bin/python3
"""Writes the demo model's bundled questions (clients/samples/demo/): the first N held-out examples
of each trained family (training/vqa_data.py, seed 2: never seen in training), in generation order,
not picked by the model's answers. scripts/demo.sh asks every one and prints right or WRONG.

Usage: /usr/bin/python3 tools/make_demo_samples.py [--per-family N] [--out DIR]
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "training"))
import vqa_data  # noqa: E402

HELDOUT_SEED = 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-family", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "clients/samples/demo"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    count = {f: 0 for f in vqa_data.FAMILIES}
    lines = []
    i = 0
    while min(count.values()) < a.per_family:
        img, ex = vqa_data.make_example(HELDOUT_SEED, i)
        i += 1
        fam = ex["family"]
        if count[fam] >= a.per_family:
            continue
        name = f"{fam}_{count[fam]}.png"
        img.save(os.path.join(a.out, name), optimize=True)
        count[fam] += 1
        lines.append({"image": name, "question": ex["question"], "answer": ex["answer"], "family": fam,
                      "evidence_box": ex["evidence_box"], "heldout_index": i - 1})
    with open(os.path.join(a.out, "questions.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    print(f"wrote {len(lines)} questions to {a.out}")


if __name__ == "__main__":
    main()

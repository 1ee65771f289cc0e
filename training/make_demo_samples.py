"""Writes the bundled demo samples (clients/samples/demo/: images + questions.jsonl) from a
shirg-eval JSON report over the held-out set (training/vqa_data.py, seed 2): per family, the first
N examples that the served mode answered correctly. scripts/demo.sh asks them and prints each
answer next to the expected one; docs/demo-model.md gives the measured accuracy on the whole set.

  /usr/bin/python3 training/make_demo_samples.py --eval eval.json --mode shirg --data DIR/data.jsonl \
      --out clients/samples/demo [--per-family 2]
"""
import argparse
import json
import os
import shutil


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eval", required=True, help="shirg-eval --json output over --data")
    ap.add_argument("--mode", default="shirg")
    ap.add_argument("--data", required=True, help="the held-out JSONL the eval ran on")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-family", type=int, default=2)
    a = ap.parse_args()
    report = json.load(open(a.eval))
    mode = next(m for m in report["modes"] if m["mode"] == a.mode)
    examples = [json.loads(line) for line in open(a.data)]
    root = os.path.dirname(os.path.abspath(a.data))
    os.makedirs(a.out, exist_ok=True)
    picked, lines = {}, []
    for o in mode["outcomes"]:
        ex = examples[o["line"] - 1]  # shirg-eval numbers the JSONL lines from 1
        fam = ex["family"]
        if not o.get("em") or picked.get(fam, 0) >= a.per_family:
            continue
        picked[fam] = picked.get(fam, 0) + 1
        name = f"{fam}_{picked[fam]}.png"
        shutil.copyfile(os.path.join(root, ex["image"]), os.path.join(a.out, name))
        lines.append({"image": name, "question": ex["question"], "answer": ex["answer"], "family": fam,
                      "evidence_box": ex["evidence_box"]})
    with open(os.path.join(a.out, "questions.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    print(f"wrote {len(lines)} samples to {a.out}: {picked}")


if __name__ == "__main__":
    main()

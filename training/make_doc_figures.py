"""Writes the figures of docs/demo-model.md (deterministic): one example image per family, and a
crop of the fine-detail family as the model sees it at 672x672 and at 384x384 (both shown 4x
enlarged with nearest-neighbour so that pixels stay visible).

  /usr/bin/python3 training/make_doc_figures.py [OUT_DIR]   (default docs/images)
"""
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vqa_data  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "images")
    os.makedirs(out, exist_ok=True)
    for fam in vqa_data.FAMILIES:
        img, ex = vqa_data.make_example(2, 0, fam)
        img.resize((336, 336), Image.BICUBIC).save(os.path.join(out, f"demo_{fam}.png"))
    img, ex = vqa_data.make_example(2, 0, "boxes")
    x0, y0, x1, y1 = ex["evidence_box"]
    box = (x0 - 28, y0 - 28, x0 + 84, y0 + 56)  # 112 x 84 px of the 672 image around the answer
    crop672 = img.crop(box)
    small = img.resize((384, 384), Image.BICUBIC)
    s = 384 / 672
    crop384 = small.crop(tuple(round(v * s) for v in box)).resize(crop672.size, Image.NEAREST)
    crop672.resize((crop672.width * 4, crop672.height * 4), Image.NEAREST).save(os.path.join(out, "fine_672.png"))
    crop384.resize((crop672.width * 4, crop672.height * 4), Image.NEAREST).save(os.path.join(out, "fine_384.png"))
    print(ex["question"], ex["answer"])


if __name__ == "__main__":
    main()

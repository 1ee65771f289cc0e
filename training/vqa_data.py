"""Synthetic fine-detail VQA data for the SHIRG demo model (deterministic by seed).

Every example is a 672x672 RGB image, one short-answer question and its answer (a number), plus
what the generator knows about it:
  evidence_box  [x0, y0, x1, y1] in 672-pixel coordinates: where the answer is written;
  glyphs        every digit drawn: {"box": [x0,y0,x1,y1], "digit": d, "index": i, "tag": t}
                (i = position of the digit inside its number, t = the region cue the number
                belongs to: a colour or a receipt word), used for the dense training targets.

Task families (FAMILIES):
  boxes    FINE detail: coloured boxes, each holding a 3-digit number in a ~9 px font whose digits
           sit in the 14-px cells of a ruled field (one SigLIP patch each at 672x672; a dark frame
           around the field, light dividers between the cells, as on printed forms). At 384x384 a digit is ~5 px and
           two digits share one patch: legible at 672, not at 384 (docs/demo-model.md shows both).
           "What number is in the red box?"
  chart    a bar chart of coloured bars with 2-digit value labels inside the bars (~18 px font,
           legible at both sizes). "What is the value of the green bar?"
  receipt  a receipt of WORD + 2-digit amount rows (~18 px font). "What is the tax?"

Usage as a program: python3 training/vqa_data.py --out DIR --seed S --count N [--family F]
writes DIR/images/NNNNNN.png and DIR/data.jsonl (one example per line: image, question, answer,
family, evidence_box, glyphs).
"""
import argparse
import json
import os
import random

from PIL import Image, ImageDraw, ImageFont

SIDE = 672
FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FAMILIES = ("boxes", "chart", "receipt")

COLOURS = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 200),
    "orange": (245, 130, 20),
    "purple": (148, 70, 189),
    "brown": (140, 86, 60),
    "pink": (227, 100, 180),
    "gray": (110, 110, 110),
    "teal": (20, 150, 150),
}
WORDS = ("total", "tax", "cash", "change", "tip", "fee")
# Region cues in one id space: colours first, then receipt words (the dense "tag" target).
TAGS = tuple(COLOURS) + WORDS


def _font(size, bold=True):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(os.path.join(FONT_DIR, name), size)


def _draw_digits(draw, number, x0, y0, cell, font, fill, tag, glyphs):
    """Draws `number` with one digit centred in each `cell`-wide cell starting at (x0, y0)."""
    for i, ch in enumerate(number):
        cx, cy = x0 + cell * i + cell / 2, y0 + cell / 2
        l, t, r, b = draw.textbbox((0, 0), ch, font=font)
        draw.text((cx - (r - l) / 2 - l, cy - (b - t) / 2 - t), ch, font=font, fill=fill)
        glyphs.append({"box": [x0 + cell * i, y0, x0 + cell * (i + 1), y0 + cell], "digit": int(ch), "index": i,
                       "tag": TAGS.index(tag)})


def _draw_comb(draw, x0, y0, cell, n):
    """The ruling of a form's digit field ("comb"): a dark frame around the n cells and light
    dividers between them, each line 1 px wide and inside a cell. It makes a digit's place in its
    number visible in the digit's own cell (frame on the left: first; frame on the right: last),
    as on printed forms; at 384x384 the lines are a third of a pixel wide and blur away."""
    dark, light = (30, 30, 30), (235, 235, 235)
    draw.rectangle([x0, y0, x0 + cell * n - 1, y0 + cell - 1], outline=dark, width=1)
    for i in range(1, n):
        draw.line([x0 + cell * i, y0 + 1, x0 + cell * i, y0 + cell - 2], fill=light, width=1)


def _evidence(glyphs, tag):
    """The answer's evidence box: the union of the digit cells of the number with this cue."""
    cells = [g["box"] for g in glyphs if TAGS[g["tag"]] == tag]
    return [min(c[0] for c in cells), min(c[1] for c in cells), max(c[2] for c in cells), max(c[3] for c in cells)]


def _noise_background(rng):
    shade = rng.randint(235, 255)
    return Image.new("RGB", (SIDE, SIDE), (shade, shade, rng.randint(235, 255)))


def gen_boxes(rng):
    img = _noise_background(rng)
    d = ImageDraw.Draw(img)
    font = _font(9)
    n = rng.randint(5, 9)
    names = rng.sample(list(COLOURS), n)
    # Slots of 6x4 patches (84x56 px) on the 48x48 patch grid; a box is 5x3 patches inside one.
    slots = [(c, r) for c in range(8) for r in range(12)]
    rng.shuffle(slots)
    glyphs, boxes = [], {}
    for name, (c, r) in zip(names, slots):
        x0, y0 = 84 * c + 14 * rng.randint(0, 1), 56 * r
        box = [x0, y0, x0 + 70, y0 + 42]
        d.rectangle(box, fill=COLOURS[name])
        number = str(rng.randint(100, 999))
        _draw_digits(d, number, x0 + 14, y0 + 14, 14, font, (255, 255, 255), name, glyphs)
        _draw_comb(d, x0 + 14, y0 + 14, 14, len(number))
        boxes[name] = number
    # Small distractor marks so that not every coloured region is a box with a number.
    for _ in range(rng.randint(3, 8)):
        x, y = rng.randrange(0, SIDE - 20), rng.randrange(0, SIDE - 6)
        d.line([x, y, x + rng.randint(6, 20), y], fill=(rng.randint(0, 120),) * 3, width=1)
    name = rng.choice(names)
    return img, f"What number is in the {name} box?", boxes[name], _evidence(glyphs, name), glyphs


def gen_chart(rng):
    img = _noise_background(rng)
    d = ImageDraw.Draw(img)
    font, small = _font(18), _font(14, bold=False)
    n = rng.randint(3, 5)
    names = rng.sample(list(COLOURS), n)
    cell = 24.5  # one SigLIP patch at 384x384
    base_y = 600
    d.line([40, base_y, 640, base_y], fill=(0, 0, 0), width=2)
    d.text((40, 20), "Quarterly values", font=small, fill=(0, 0, 0))
    glyphs, bars = [], {}
    width_cells, gap_cells = 3, rng.randint(1, 2)
    start = rng.randint(2, 3)
    n = min(n, (26 - start) // (width_cells + gap_cells))  # every bar inside the 672 px image
    names = names[:n]
    for i, name in enumerate(names):
        value = rng.randint(10, 99)
        x0 = round(cell * (start + i * (width_cells + gap_cells)))
        top = base_y - round(4.5 * value) - 40
        top = round(round(top / cell) * cell)
        box = [x0, top, x0 + round(cell * width_cells), base_y]
        d.rectangle(box, fill=COLOURS[name])
        _draw_digits(d, str(value), x0 + cell, top + 4, cell, font, (255, 255, 255), name, glyphs)
        d.text((x0 + 20, base_y + 12), f"Q{i + 1}", font=small, fill=(0, 0, 0))
        bars[name] = str(value)
    name = rng.choice(names)
    return img, f"What is the value of the {name} bar?", bars[name], _evidence(glyphs, name), glyphs


def gen_receipt(rng):
    img = _noise_background(rng)
    d = ImageDraw.Draw(img)
    font, small = _font(18), _font(14, bold=False)
    cell = 24.5
    x_left = round(cell * rng.randint(3, 8))
    top = round(cell * rng.randint(2, 6))
    d.rectangle([x_left - 20, top - 40, x_left + 330, top + 40 * 8], outline=(60, 60, 60), width=2)
    d.text((x_left, top - 30), "RECEIPT", font=small, fill=(0, 0, 0))
    n = rng.randint(4, 6)
    words = rng.sample(list(WORDS), n)
    glyphs, rows = [], {}
    for i, word in enumerate(words):
        y = top + round(cell * 1.5) * i + 10
        y = round(round(y / cell) * cell)
        d.text((x_left, y + 2), word.upper(), font=font, fill=(0, 0, 0))
        amount = str(rng.randint(10, 99))
        x_num = round(round((x_left + 110) / cell) * cell)
        _draw_digits(d, amount, x_num, y, cell, font, (0, 0, 0), word, glyphs)
        rows[word] = amount
    word = rng.choice(words)
    return img, f"What is the {word}?", rows[word], _evidence(glyphs, word), glyphs


GENERATORS = {"boxes": gen_boxes, "chart": gen_chart, "receipt": gen_receipt}


def make_example(seed, index, family=None):
    """Example `index` of the set with `seed`: deterministic (its own random.Random)."""
    rng = random.Random(seed * 1_000_003 + index)
    fam = family or FAMILIES[index % len(FAMILIES)]
    img, question, answer, box, glyphs = GENERATORS[fam](rng)
    return img, {"question": question, "answer": answer, "family": fam, "evidence_box": box, "glyphs": glyphs}


def write_set(out, seed, count, family=None):
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    with open(os.path.join(out, "data.jsonl"), "w") as f:
        for i in range(count):
            img, ex = make_example(seed, i, family)
            name = f"images/{seed}_{i:06d}.png"
            img.save(os.path.join(out, name), optimize=False, compress_level=1)
            ex["image"] = name
            f.write(json.dumps(ex) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--family", choices=FAMILIES)
    a = ap.parse_args()
    write_set(a.out, a.seed, a.count, a.family)


if __name__ == "__main__":
    main()

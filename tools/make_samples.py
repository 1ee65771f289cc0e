#!/usr/bin/python3
"""Writes the bundled sample images of the clients (clients/samples/) deterministically.

Usage: /usr/bin/python3 tools/make_samples.py [OUT_DIR]   (default: clients/samples next to tools/)

Three small, real-looking test images with text at several sizes (what SHIRG's high-resolution
selection is for), each under 100 KB:
  bar_chart.png   a labelled bar chart (title, axis labels, value labels, legend, footnote)
  receipt.jpg     a shop receipt (items, prices, totals, small print)
  street_sign.jpg a street scene with a sign, a shop front and a car number plate
Nothing is random except through the fixed-seed generator below; fonts are Debian's DejaVu
(fonts-dejavu-core), with PIL's built-in bitmap font as a fallback.
"""
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"


def font(size, bold=False, mono=False):
    name = "DejaVuSansMono" if mono else "DejaVuSans"
    if bold:
        name += "-Bold"
    path = os.path.join(FONT_DIR, name + ".ttf")
    if os.path.exists(path):
        return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def text_center(draw, xy, text, fnt, fill):
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=fnt)
    draw.text((xy[0] - (x1 - x0) / 2, xy[1] - (y1 - y0) / 2), text, font=fnt, fill=fill)


def bar_chart(path):
    w, h = 640, 480
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    text_center(d, (w / 2, 28), "Quarterly revenue by region, 2023 (million EUR)", font(17, True),
                (20, 20, 20))
    left, right, top, bottom = 70, 600, 70, 400
    d.line([(left, top), (left, bottom), (right, bottom)], fill=(0, 0, 0), width=2)
    vmax = 50
    for v in range(0, vmax + 1, 10):
        y = bottom - (bottom - top) * v / vmax
        d.line([(left - 5, y), (right, y)], fill=(225, 225, 225) if v else (0, 0, 0), width=1)
        d.text((left - 32, y - 7), f"{v:>2}", font=font(12), fill=(60, 60, 60))
    quarters = ["Q1", "Q2", "Q3", "Q4"]
    north = [23.4, 31.9, 28.2, 44.7]
    south = [17.8, 20.5, 26.1, 30.3]
    colors = [(52, 101, 164), (237, 125, 49)]
    group = (right - left) / len(quarters)
    bar = group * 0.3
    for i, q in enumerate(quarters):
        gx = left + group * i + group * 0.2
        for j, series in enumerate((north, south)):
            v = series[i]
            x0 = gx + j * (bar + 4)
            y0 = bottom - (bottom - top) * v / vmax
            d.rectangle([x0, y0, x0 + bar, bottom - 1], fill=colors[j])
            text_center(d, (x0 + bar / 2, y0 - 10), f"{v:.1f}", font(11), (30, 30, 30))
        text_center(d, (gx + bar + 2, bottom + 16), q, font(14, True), (20, 20, 20))
    d.text((w / 2 - 20, bottom + 34), "Quarter", font=font(13), fill=(20, 20, 20))
    label = Image.new("RGBA", (140, 20), (255, 255, 255, 0))
    ImageDraw.Draw(label).text((0, 0), "Revenue (M EUR)", font=font(13), fill=(20, 20, 20))
    img.paste(label.rotate(90, expand=True), (12, 160), label.rotate(90, expand=True))
    for j, name in enumerate(("North", "South")):
        lx = 470 + j * 70
        d.rectangle([lx, 76, lx + 12, 88], fill=colors[j])
        d.text((lx + 17, 74), name, font=font(12), fill=(20, 20, 20))
    d.text((left, h - 26), "Source: internal finance report FR-2024-017. Figures unaudited.",
           font=font(9), fill=(110, 110, 110))
    img.save(path, optimize=True)


def receipt(path):
    w, h = 420, 640
    bg = Image.new("RGB", (560, 720), (96, 84, 70))  # a wooden table under the paper
    paper = Image.new("RGB", (w, h), (250, 248, 240))
    d = ImageDraw.Draw(paper)
    text_center(d, (w / 2, 30), "GREEN LEAF MARKET", font(22, True), (10, 10, 10))
    text_center(d, (w / 2, 56), "14 Harbour Street, Portsmouth PO1 2HB", font(11), (40, 40, 40))
    text_center(d, (w / 2, 72), "Tel 023 9286 4410  VAT GB 284 1170 52", font(11), (40, 40, 40))
    mono = font(14, mono=True)
    y = 100
    d.text((24, y), "Date 2024-03-09   Time 17:42", font=mono, fill=(0, 0, 0))
    y += 20
    d.text((24, y), "Till 3   Receipt #004817", font=mono, fill=(0, 0, 0))
    y += 26
    d.line([(20, y), (w - 20, y)], fill=(0, 0, 0))
    items = [("Organic bananas 1.2kg", 1.74), ("Whole milk 2L", 1.65), ("Sourdough loaf", 2.95),
             ("Free range eggs x12", 3.40), ("Cheddar 400g", 4.25), ("Coffee beans 500g", 7.99),
             ("Tomatoes vine 500g", 1.89), ("Olive oil 1L", 8.49)]
    y += 10
    for name, price in items:
        d.text((24, y), f"{name:<24}{price:>7.2f}", font=mono, fill=(0, 0, 0))
        y += 21
    d.line([(20, y + 4), (w - 20, y + 4)], fill=(0, 0, 0))
    y += 14
    subtotal = sum(p for _, p in items)
    d.text((24, y), f"{'SUBTOTAL':<24}{subtotal:>7.2f}", font=mono, fill=(0, 0, 0))
    y += 21
    d.text((24, y), f"{'Member discount 5%':<24}{-subtotal * 0.05:>7.2f}", font=mono, fill=(0, 0, 0))
    y += 24
    total = subtotal * 0.95
    d.text((24, y), f"TOTAL EUR {total:>21.2f}", font=font(15, True, True), fill=(0, 0, 0))
    y += 30
    d.text((24, y), f"{'CARD  **** 4821':<24}{total:>7.2f}", font=mono, fill=(0, 0, 0))
    y += 34
    text_center(d, (w / 2, y), "Thank you for shopping with us!", font(12), (20, 20, 20))
    y += 18
    text_center(d, (w / 2, y), "Returns within 14 days with this receipt.", font(9), (70, 70, 70))
    # A barcode drawn from a fixed bit pattern.
    rng = random.Random(4817)
    x = 70
    while x < w - 70:
        bw = rng.choice((1, 2, 3))
        d.rectangle([x, y + 22, x + bw - 1, y + 62], fill=(0, 0, 0))
        x += bw + rng.choice((1, 2, 3))
    paper = paper.rotate(2.5, resample=Image.BICUBIC, expand=True, fillcolor=(96, 84, 70))
    bg.paste(paper, (60, 20))
    bg = bg.filter(ImageFilter.GaussianBlur(0.6))
    bg.save(path, quality=82, optimize=True)


def street_sign(path):
    w, h = 640, 480
    img = Image.new("RGB", (w, h), (150, 190, 230))
    d = ImageDraw.Draw(img)
    for i in range(200):  # sky gradient
        c = (150 + i // 5, 190 + i // 8, 230)
        d.line([(0, i), (w, i)], fill=c)
    d.rectangle([0, 300, w, h], fill=(90, 90, 95))  # road
    d.rectangle([0, 290, w, 306], fill=(170, 170, 165))  # kerb
    for x in range(0, w, 80):
        d.rectangle([x + 10, 390, x + 50, 398], fill=(240, 240, 240))
    # Shop front with a name board and opening hours.
    d.rectangle([330, 80, 630, 292], fill=(200, 170, 130))
    d.rectangle([345, 95, 615, 135], fill=(30, 60, 40))
    text_center(d, (480, 115), "CAFE AURORA", font(24, True), (240, 220, 140))
    d.rectangle([350, 150, 470, 285], fill=(60, 80, 100))
    d.rectangle([490, 150, 610, 230], fill=(70, 95, 120))
    d.text((496, 236), "Open 7:00-19:00", font=font(10), fill=(20, 20, 20))
    d.text((496, 250), "Mon - Sat", font=font(10), fill=(20, 20, 20))
    # Street sign on a pole.
    d.rectangle([118, 90, 126, 300], fill=(70, 70, 70))
    d.rectangle([40, 60, 250, 110], fill=(0, 90, 50), outline=(255, 255, 255), width=3)
    text_center(d, (145, 85), "Elm Street  ->", font(20, True), (255, 255, 255))
    d.rectangle([70, 120, 175, 175], fill=(255, 255, 255), outline=(200, 0, 0), width=6)
    text_center(d, (122, 147), "30", font(28, True), (0, 0, 0))
    # A car with a number plate.
    d.rounded_rectangle([150, 320, 420, 420], radius=25, fill=(180, 30, 40))
    d.rounded_rectangle([195, 285, 370, 335], radius=18, fill=(160, 25, 35))
    d.rectangle([210, 295, 355, 328], fill=(150, 190, 220))
    d.ellipse([175, 395, 235, 455], fill=(20, 20, 20))
    d.ellipse([335, 395, 395, 455], fill=(20, 20, 20))
    d.rectangle([240, 392, 330, 412], fill=(250, 250, 250), outline=(0, 0, 0))
    text_center(d, (285, 402), "KD 4271", font(13, True, True), (0, 0, 0))
    img = img.filter(ImageFilter.GaussianBlur(0.5))
    img.save(path, quality=85, optimize=True)


QUESTIONS = [
    ("bar_chart.png", "What was the North region's revenue in Q4?"),
    ("bar_chart.png", "Which quarter had the lowest revenue in the South?"),
    ("bar_chart.png", "What is the title of the chart?"),
    ("receipt.jpg", "What is the total amount on the receipt?"),
    ("receipt.jpg", "What is the name of the shop?"),
    ("receipt.jpg", "How much did the coffee beans cost?"),
    ("street_sign.jpg", "What is written on the green street sign?"),
    ("street_sign.jpg", "What is the speed limit shown?"),
    ("street_sign.jpg", "What is the car's number plate?"),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "clients", "samples")
    os.makedirs(out, exist_ok=True)
    bar_chart(os.path.join(out, "bar_chart.png"))
    receipt(os.path.join(out, "receipt.jpg"))
    street_sign(os.path.join(out, "street_sign.jpg"))
    import json
    with open(os.path.join(out, "questions.txt"), "w") as f:
        f.write("# One question per line (blank lines and lines starting with # are ignored).\n")
        for _, q in QUESTIONS:
            f.write(q + "\n")
    with open(os.path.join(out, "questions.jsonl"), "w") as f:
        for image, q in QUESTIONS:
            f.write(json.dumps({"image": image, "question": q}) + "\n")
    for name in sorted(os.listdir(out)):
        print(f"{name}: {os.path.getsize(os.path.join(out, name))} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes corpus.txt: the deterministic text sample the demo/test tokenizers are trained on.

English sentences about charts, documents and everyday scenes (the domain of the server's
questions and answers), numbers, dates, a little source code and some non-Latin text, built from
templates with a fixed seed. Run: python3 make_corpus.py > corpus.txt
"""
import random

rng = random.Random(20261124)

subjects = ["the chart", "the table", "the invoice", "the receipt", "the document", "the figure", "the map",
            "the sign", "the screenshot", "the photo", "the diagram", "the report", "the form", "the label",
            "the menu", "the poster", "the slide", "the page", "the graph", "the timetable"]
verbs = ["shows", "lists", "compares", "describes", "contains", "summarises", "highlights", "reports", "displays",
         "illustrates"]
objects = ["quarterly revenue", "the number of visitors", "average temperature", "sales by region",
           "the total amount due", "monthly expenses", "the population of each city", "market share",
           "the results of the survey", "the opening hours", "the price of each item", "the growth rate",
           "energy use per household", "the test scores", "rainfall in millimetres", "the number of orders"]
tails = ["for the last five years", "in each month", "by product category", "across four regions",
         "since 2019", "at the top of the page", "in the lower left corner", "in small print",
         "with a blue bar for each year", "next to the legend", "under the title", "in the second column"]
questions = ["What is the title of the chart?", "Which year has the highest value?", "What is written on the sign?",
             "How many items are on the receipt?", "What is the total amount?", "Which bar is the tallest?",
             "What colour is the car?", "What does the small text in the corner say?", "Who is the sender?",
             "What is the date on the document?", "How many people are in the picture?",
             "What is the value for March?", "Which region grew the most?", "Describe the image in detail."]
answers = ["The chart shows", "The total is", "It says", "The tallest bar is", "There are", "The date is",
           "The answer is", "The title reads", "The highest value is in", "The sender is"]
names = ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Iris", "Jack"]
cities = ["Paris", "Tokyo", "Lagos", "Lima", "Oslo", "Cairo", "Delhi", "Quebec", "Sydney", "Madrid"]
code = [
    "def total(items):\n    return sum(item.price * item.count for item in items)\n",
    "for (int i = 0; i < n; ++i) {\n    sum += values[i];\n}\n",
    "SELECT region, SUM(amount) FROM sales GROUP BY region ORDER BY 2 DESC;\n",
    "const chart = new Chart(ctx, { type: 'bar', data: data });\n",
    "if x > 0:\n\tprint(f\"value = {x:.2f}\")\nelse:\n\tprint('none')\n",
]
other = ["图表显示了每个月的销售额。", "東京の天気は晴れです。", "매출이 증가했습니다.", "Привет, мир! Цена 120 ₽.",
         "Le total est de 45,90 €.", "Die Tabelle zeigt die Ergebnisse.", "مرحبا بالعالم", "שלום עולם",
         "café naïve résumé", "🙂 👍 🎉"]

lines = []
for i in range(2600):
    r = rng.random()
    if r < 0.55:
        s = f"{rng.choice(subjects).capitalize()} {rng.choice(verbs)} {rng.choice(objects)} {rng.choice(tails)}."
        if rng.random() < 0.4:
            s += f" {rng.choice(answers)} {rng.randint(1, 9999)} in {rng.choice(cities)}."
        lines.append(s)
    elif r < 0.7:
        lines.append(f"{rng.choice(questions)} {rng.choice(answers)} {rng.choice(['about', 'exactly', 'nearly'])} "
                     f"{rng.randint(0, 100)}.{rng.randint(0, 99):02d} percent.")
    elif r < 0.8:
        y, m, d = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
        lines.append(f"{rng.choice(names)} paid ${rng.randint(1, 999)}.{rng.randint(0, 99):02d} on {y}-{m:02d}-{d:02d} "
                     f"at {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} (invoice #{rng.randint(1000, 99999)}).")
    elif r < 0.9:
        lines.append(rng.choice(code).rstrip("\n"))
    else:
        lines.append(rng.choice(other))
print("\n".join(lines))

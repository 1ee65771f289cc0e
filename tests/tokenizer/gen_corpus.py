#!/usr/bin/env python3
"""Deterministic corpus generator for the tokenizer conformance tests and benchmark.

usage: gen_corpus.py conformance OUT.jsonl [--lines N]   one JSON string per line (entries may
                                                          contain newlines, tabs, NUL, ...)
       gen_corpus.py train OUT.txt [--kb N]               plain UTF-8 training text for the BPE
                                                          trainer (English prose, code, numbers)
Same arguments -> byte-identical output (random.Random with a fixed seed, no hash ordering).
"""
import json
import random
import sys

WORDS = (
    "the of and to in is was he for it with as his on be at by had are but from or have an they "
    "which one you were her all she there would their we him been has when who will more no if out "
    "so said what up its about into than them can only other new some could time these two may "
    "then do first any my now such like our over man me even most made after also did many before "
    "must through back years where much your way well down should because each just those people "
    "how too little state good very make world still own see men work long get here between both "
    "life being under never day same another know while last might us great old year off come "
    "since against go came right used take three river mountain lantern harbour quietly "
    "extraordinary notwithstanding photosynthesis tokenizer diffusion vision language model "
    "Ireland Kyoto Zanzibar McAllister O'Brien naïve café résumé coöperate façade Ångström "
    "jalapeño Straße Größe déjà vu über piñata".split()
)
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M",
                "'LL", "'D", "'ſ", "’s", "n't"]
PUNCT = [".", ",", ";", ":", "!", "?", "...", " —", " -", "…", "?!", ")", "\"", "'"]
CODE = [
    "def {f}(x, y=None):\n    if y is None:\n        return x * 2\n    return x + y\n",
    "for (int i = 0; i < {n}; ++i) {{\n\tsum += v[i] * w[i];\n}}\n",
    "const {f} = async (req, res) => {{ await db.query(`SELECT * FROM t WHERE id = ${{id}}`); }};",
    "#include <vector>\nstd::vector<int64_t> {f}(const std::string& s);  // {n} items\n",
    "if (x != nullptr && x->next) {{ x = x->next; }} else {{ return -{n}; }}",
    "    print(f\"{{name!r}}: {{value:>10.3f}}\")  # {n}\n",
    "SELECT name, COUNT(*) AS n FROM users GROUP BY name HAVING n > {n};",
    "<div class=\"row\"><span id='x{n}'>&nbsp;&lt;tag&gt;</span></div>",
    "{{\"key\": [1, 2, 3], \"nested\": {{\"a\": null, \"b\": true, \"n\": {n}}}}}",
    "$ ls -la /usr/lib/x86_64-linux-gnu | grep -E '^d' | wc -l\n{n}\n",
    "fn {f}<'a>(s: &'a str) -> Result<Vec<u32>, Box<dyn Error>> {{ Ok(vec![{n}]) }}",
    "x={n};y=x**2//3;z=(x<<2)|0xFF;w=~z&0b1010;print(x,y,z,w)",
    "\t\tcase {n}: return \"{f}\";\r\n",
]
FUNCS = ["parse_header", "encodeIds", "main", "run", "forward", "_private_helper", "Ω_func",
         "compute2D", "HTTPServer", "x"]
CJK = ["我们今天去公园散步，天气很好。", "東京は日本の首都です。", "기계 학습은 재미있습니다!",
       "「こんにちは」と彼女は言った。", "中华人民共和国成立于1949年10月1日。", "ｶﾀｶﾅ と ﾋﾗｶﾞﾅ",
       "全角数字１２３と半角123", "漢字かなカナ交じり文", "你好，世界！ Hello, 世界!", "한국어와 中文 mixed"]
EMOJI = ["👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇺🇸🇯🇵", "1️⃣", "❤️", "🧑🏿‍🚀", "😀😃😄", "🫠", "🐈‍⬛",
         "👩‍❤️‍💋‍👨", "✌🏻", "🏴‍☠️", "©️®️™️", "🤷‍♀️"]
COMBINING = ["e\u0301", "a\u0308", "A\u030a", "n\u0303", "o\u0302\u0323", "o\u0323\u0302",
             "\u1100\u1161\u11a8", "c\u0327", "u\u0308\u0301", "i\u0307", "\u212b", "\u2126",
             "e\u0301\u0301", "Z\u0335\u0327\u0301", "\u0915\u093c", "\u30ab\u3099", "\ufb01"]
RTL = ["مرحبا بالعالم", "السلام عليكم ورحمة الله", "שלום עולם", "עברית 123 ועוד", "العربية ١٢٣٤",
       "\u200fמימין לשמאל\u200e", "كَتَبَ الطَّالِبُ الدَّرْسَ", "فارسی: سلام دنیا", "اردو زبان"]
OTHER = ["Привет, мир!", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Ελληνικά ΑΒΓ",
         "∀x∈ℝ: x²≥0", "½ ¼ ¾ ⅓ Ⅻ ⑦", "nbsp\u00a0here", "ideo\u3000space", "line\u2028sep",
         "mongol\u180evs", "nel\u0085x", "zero\u200bwidth", "\ufeffbom", "ctl\x01\x02\x7f",
         "tab\tsep\tvalues", "\x00nul", "ſtraße", "Kelvin \u212a", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "ǅungla"]
SPECIALS = ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|begin_of_text|>",
            "<|end_of_text|>", "<|startoftext|>", "<|endoftext|>", "<|mdm_mask|>", "<|im_start|>",
            "<|im_end|>", "<think>", "</think>", "<tool_call>", "<|reserved_special_token_3|>",
            "<|eot_id", "<|EOT_ID|>", "<image>", "<|fim_prefix|>"]
WS = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", " \n", "\n ", " \t ",
      "        ", "\u00a0", "\u3000", "\n\t", "  \n\n  "]


def sentence(r):
    n = r.randint(3, 18)
    out = []
    for i in range(n):
        w = r.choice(WORDS)
        if i == 0 or r.random() < 0.05:
            w = w[:1].upper() + w[1:]
        if r.random() < 0.03:
            w = w.upper()
        if r.random() < 0.06:
            w += r.choice(CONTRACTIONS)
        out.append(w)
        if r.random() < 0.08:
            out[-1] += r.choice(PUNCT)
    return " ".join(out) + r.choice([".", ".", ".", "!", "?", "…", ".\"", ":"])


def number(r):
    k = r.randrange(12)
    if k == 0:
        return str(r.randint(0, 10 ** r.randint(1, 15)))
    if k == 1:
        return f"{r.uniform(-1e4, 1e4):.{r.randint(1, 8)}f}"
    if k == 2:
        return f"{r.randint(1900, 2100)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    if k == 3:
        return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
    if k == 4:
        return f"${r.randint(1, 999)},{r.randint(0, 999):03d}.{r.randint(0, 99):02d}"
    if k == 5:
        return f"+1 ({r.randint(200, 999)}) {r.randint(200, 999)}-{r.randint(0, 9999):04d}"
    if k == 6:
        return f"{r.uniform(0, 10):.3e}"
    if k == 7:
        return hex(r.randint(0, 2 ** 32))
    if k == 8:
        return f"{r.randint(1, 31)}/{r.randint(1, 12)}/{r.randint(0, 99):02d}"
    if k == 9:
        return f"v{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}-rc{r.randint(1, 5)}"
    if k == 10:
        return f"{r.randint(1, 100)}% of {r.randint(1000, 99999)} items (±{r.randint(1, 9)}.{r.randint(0, 9)})"
    return "".join(r.choice("0123456789") for _ in range(r.randint(1, 40)))


def code(r):
    return r.choice(CODE).format(f=r.choice(FUNCS), n=r.randint(0, 100000))


def mixed(r):
    parts = []
    for _ in range(r.randint(2, 7)):
        pool = r.randrange(9)
        if pool == 0:
            parts.append(r.choice(CJK))
        elif pool == 1:
            parts.append(r.choice(EMOJI) * r.randint(1, 3))
        elif pool == 2:
            parts.append(r.choice(WORDS) + r.choice(COMBINING) + r.choice(WORDS))
        elif pool == 3:
            parts.append(r.choice(RTL))
        elif pool == 4:
            parts.append(r.choice(OTHER))
        elif pool == 5:
            parts.append(r.choice(SPECIALS))
        elif pool == 6:
            parts.append(number(r))
        elif pool == 7:
            parts.append(r.choice(WS))
        else:
            parts.append(sentence(r))
        parts.append(r.choice(["", " ", "", r.choice(WS)]))
    return "".join(parts)


def whitespace(r):
    parts = []
    for _ in range(r.randint(1, 6)):
        parts.append(r.choice(WS) * r.randint(1, 4))
        if r.random() < 0.6:
            parts.append(r.choice(WORDS + ["x", "1", ".", "{", "é"]))
    return "".join(parts)


def special_text(r):
    s = sentence(r)
    words = s.split(" ")
    for _ in range(r.randint(1, 3)):
        i = r.randint(0, len(words))
        tok = r.choice(SPECIALS)
        glue = r.choice(["", " ", "\n", "  "])
        words.insert(i, glue + tok + glue)
    return " ".join(words)


GENERATORS = [(sentence, 5), (code, 3), (number, 2), (whitespace, 2), (mixed, 5),
              (special_text, 2), (lambda r: r.choice(CJK) + r.choice(CJK), 1),
              (lambda r: r.choice(EMOJI) + " " + r.choice(EMOJI) + r.choice(EMOJI), 1),
              (lambda r: " ".join(r.choice(WORDS) + r.choice(COMBINING) for _ in range(4)), 1),
              (lambda r: r.choice(RTL) + " " + number(r) + " " + r.choice(RTL), 1)]


def conformance(path, lines):
    r = random.Random(20240517)
    gens = [g for g, w in GENERATORS for _ in range(w)]
    with open(path, "w", encoding="utf-8", newline="") as f:
        # A few fixed edge cases first.
        fixed = ["", " ", "\n", "a", "<|eot_id|>", " <|eot_id|> ", "<|eot_id|><|eot_id|>",
                 "Hello world", "   leading", "trailing   ", "\t", "'s", "'S'LL", "e\u0301",
                 "\U0001f468\u200d\U0001f469\u200d\U0001f467", "123456789", "١٢٣", "x" * 300,
                 "ab" * 500, " " * 100, "\n" * 50, "🙂" * 40]
        for s in fixed:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
        for _ in range(lines - len(fixed)):
            g = r.choice(gens)
            s = g(r)
            if r.random() < 0.25:
                s = s + r.choice(WS) + r.choice(gens)(r)
            f.write(json.dumps(s, ensure_ascii=False) + "\n")


def train(path, kb):
    r = random.Random(7)
    out = []
    size = 0
    while size < kb * 1024:
        k = r.randrange(10)
        if k < 6:
            para = " ".join(sentence(r) for _ in range(r.randint(2, 6)))
        elif k < 8:
            para = code(r)
        elif k < 9:
            para = " ".join(number(r) for _ in range(r.randint(3, 10)))
        else:
            para = r.choice(CJK) + " " + r.choice(OTHER[:5]) + " " + r.choice(RTL[:5])
        out.append(para)
        size += len(para.encode("utf-8")) + 2
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n\n".join(out) + "\n")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("conformance", "train"):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    opts = dict(zip(sys.argv[3::2], sys.argv[4::2]))
    if mode == "conformance":
        conformance(path, int(opts.get("--lines", "20000")))
    else:
        train(path, int(opts.get("--kb", "256")))


if __name__ == "__main__":
    main()

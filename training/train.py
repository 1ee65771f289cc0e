"""Trains the SHIRG demo model from scratch on CPU (one command, reproducible from --seed).

  /usr/bin/python3 training/train.py --out models/demo [--seed 0] [--steps-lm N] [--steps-vision N] [--steps-lora N]

Writes a LaViDa-format checkpoint to OUT/ (config.json, model.safetensors in F32, tokenizer.json,
tokenizer_config.json, generation_config.json: the directory layout and tensor names are written by
`shirg-make-checkpoint --preset demo`, whose random weights are replaced) and the SHIRG PEFT LoRA
adapter to OUT/shirg-lora/ (~30 min on 2 cores; docs/demo-model.md). Stages (docs/demo-model.md):
  lm      LLaDA on fixed oracle visual tokens (class Oracle): masked diffusion on the answer (mask
          ratio t ~ U(0.2, 1] per example, loss weighted by 1/t, the prefix never attends to the
          answer) plus a grounding loss on the last block's attention;
  vision  in parallel: SigLIP + projector distilled per patch to the oracle tokens, plus dense
          classification heads, on 384x384 views, native-resolution crops and 672x672 views;
  projector  the two stages merged; SigLIP frozen, the projector distilled again to the oracle
          tokens with the digit patches weighted as much as the background (cached features);
  align   SigLIP frozen; the projector and LLaDA trained together on the real projector outputs
          of the cached views in the server's layouts (full-672, SHIRG, baseline-384); added
          after attempt 5 (--steps-align 0 is attempt 5's recipe, which also had float64 RoPE);
  shirg   base frozen; PEFT LoRA on the projector, SigLIP q/k/v and coord_rotary at 672x672 with
          the training-side SHIRG selection in the loop.
Every stage runs a fixed number of optimizer steps, so a run is reproducible given the seed and the
thread count. Progress lines print loss, speed and held-out accuracy (seed 2's examples; the
training set is seed 1's).
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

# OpenMP threads that spin while they wait lose ~3x on a machine shared with other work.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# glibc malloc mmaps every large temporary and unmaps it on free, so each one is page-faulted in
# afresh: on this project's virtual machines that made stage lm's steps on the real layouts 7-11 s
# instead of ~1 s (docs/demo-model.md). glibc reads its settings only at start-up, so the script
# re-executes itself once with those the C++ programs apply through mallopt
# (engine/platform/malloc_tuning.h); SHIRG_MALLOC_TUNING=0 or the operator's own MALLOC_* /
# glibc.malloc tunables leave malloc alone. Numerics are unaffected.
MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
              "MALLOC_TRIM_THRESHOLD_": str((1 << 31) - 1), "MALLOC_TOP_PAD_": str(256 << 20)}
if (os.environ.get("SHIRG_MALLOC_TUNING") != "0" and not any(os.environ.get(k) for k in MALLOC_ENV)
        and "glibc.malloc." not in os.environ.get("GLIBC_TUNABLES", "")):
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **MALLOC_ENV})
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lavida_model as lm  # noqa: E402
import safetensors_io  # noqa: E402
import shirg_select  # noqa: E402
import vqa_data  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SEED, HELDOUT_SEED = 1, 2
N_DIGIT, N_INDEX, N_TAG = 11, 3, len(vqa_data.TAGS)  # digit classes: 0-9, 10 = none
IGNORE = -100
# Answers are trained and generated at 8 positions (the number, <|eot_id|>, <|endoftext|> padding):
# serve the demo model with gen_length 8.
ANSWER_LEN = 8
# Mask ratio t ~ U(T_MIN, 1] per example, loss weighted by 1/t (LLaDA's objective). LLaDA samples
# t from (1e-3, 1]; at batch 8 the 1/t weight of t near 0 makes the gradient one example's
# (clipped) noise, so the demo model trains with T_MIN 0.2 (measured: docs/demo-model.md).
T_MIN = 0.2


def native_bf16():
    """True on CPUs with native bf16 arithmetic (AVX512-BF16 or AMX): there bf16 autocast is ~3x
    faster; elsewhere bf16 is emulated (20-40x slower) and training stays in fp32."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# ---------------------------------------------------------------- checkpoint skeleton, tokens
def make_corpus(path):
    import re
    base = re.sub(r"[0-9]", "", open(os.path.join(ROOT, "tools/model_writer/corpus.txt")).read())
    lines = []
    for c in vqa_data.COLOURS:
        lines += [f"What number is in the {c} box?", f"What is the value of the {c} bar?"]
    for w in vqa_data.WORDS:
        lines += [f"What is the {w}?", w.upper()]
    with open(path, "w") as f:
        f.write(base + "\n" + "\n".join(lines * 20) + "\n")


def all_questions():
    qs = []
    for c in vqa_data.COLOURS:
        qs += [f"What number is in the {c} box?", f"What is the value of the {c} bar?"]
    qs += [f"What is the {w}?" for w in vqa_data.WORDS]
    return qs


def tokenize_all(bin_dir, model_dir):
    """question -> (prompt_ids, image_pos); answer text -> answer ids (ends with <|eot_id|>)."""
    lines = [json.dumps({"question": q, "answer": "0"}) for q in all_questions()]
    lines += [json.dumps({"question": "x", "answer": str(n)}) for n in range(10, 1000)]
    r = subprocess.run([os.path.join(bin_dir, "tools/dataset/shirg-tokenize-qa"), "--model-dir", model_dir],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    q, a = {}, {}
    for line in r.stdout.splitlines():
        j = json.loads(line)
        if j["question"] != "x":
            q[j["question"]] = (j["prompt_ids"], j["image_pos"])
        else:
            a[j["answer"]] = j["answer_ids"]
    return q, a


# ---------------------------------------------------------------- images and dense targets
def to_pixels(img, side):
    if img.size != (side, side):
        img = img.resize((side, side), Image.BICUBIC)
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(side, side, 3)
    return (t.permute(2, 0, 1).float() / 255.0 - 0.5) / 0.5


def dense_targets(glyphs, grid, scale, ox=0, oy=0):
    """Per-patch targets on a grid x grid map of a view that shows the 672 image from (ox, oy)
    at `scale` view pixels per image pixel: digit (10 = none), index and tag (IGNORE off digits).
    Two digit centres in one patch make that patch IGNORE (illegible at this scale)."""
    digit = torch.full((grid * grid,), 10, dtype=torch.long)
    index = torch.full((grid * grid,), IGNORE, dtype=torch.long)
    tag = torch.full((grid * grid,), IGNORE, dtype=torch.long)
    seen = set()
    for gl in glyphs:
        x0, y0, x1, y1 = gl["box"]
        cx, cy = ((x0 + x1) / 2 - ox) * scale, ((y0 + y1) / 2 - oy) * scale
        c, r = int(cx // 14), int(cy // 14)
        if not (0 <= c < grid and 0 <= r < grid):
            continue
        p = r * grid + c
        if p in seen:
            digit[p], index[p], tag[p] = IGNORE, IGNORE, IGNORE
            continue
        seen.add(p)
        digit[p], index[p], tag[p] = gl["digit"], gl["index"], gl["tag"]
    return digit, index, tag


class DenseHeads(nn.Module):
    """Training-only heads on the vision features (not part of the checkpoint)."""

    def __init__(self, dv):
        super().__init__()
        self.digit, self.index, self.tag = nn.Linear(dv, N_DIGIT), nn.Linear(dv, N_INDEX), nn.Linear(dv, N_TAG)

    def loss(self, feats, targets):
        d, i, t = (torch.stack(x) for x in zip(*targets))
        w = torch.ones(N_DIGIT)
        w[10] = 0.05
        f = feats.reshape(-1, feats.shape[-1])
        ld = F.cross_entropy(self.digit(f), d.reshape(-1), weight=w, ignore_index=IGNORE)
        li = F.cross_entropy(self.index(f), i.reshape(-1), ignore_index=IGNORE)
        lt = F.cross_entropy(self.tag(f), t.reshape(-1), ignore_index=IGNORE)
        return ld + 0.3 * li + 0.3 * lt


# ---------------------------------------------------------------- the LM part
class Tokens:
    def __init__(self, q, a, special):
        self.q, self.a, self.special = q, a, special

    def answer(self, text, length):
        ids = list(self.a[text])
        return ids + [self.special["eos"]] * (length - len(ids))


def visual_tokens(model, feats, mode, g, k=1152, kept_out=None):
    """feats [Nv, Dv] of one view -> visual tokens [N, D] for the LM (mode: plain | shirg).
    kept_out: a dict that receives cell -> rank among the kept hi-detail tokens (shirg)."""
    if mode == "plain":
        return model.projector(feats)
    kept = shirg_select.select(feats, k, g)
    if kept_out is not None:
        kept_out.update({int(c): r for r, c in enumerate(kept.tolist())})
    coords = shirg_select.coords_for(kept, g)
    hi = feats[kept]
    hi = hi + model.coord_rotary(lm.coord_rotary_features(coords[64:]))  # hi-detail tokens only (seed 4.1)
    toks = torch.cat([shirg_select.scaffold(feats, g), hi], dim=0)
    return model.projector(toks)


def evidence_tokens(ex, grid, scale, kept=None):
    """Per answer digit k: the index of the visual token that shows digit k of the answer (its
    glyph's patch on the view's grid), or None (not visible: collision at this scale, or not kept
    by the selection). kept: the selection's kept cells (visual token = 64 + rank in kept)."""
    x0, y0, x1, y1 = ex["evidence_box"]
    digits = sorted((g for g in ex["glyphs"] if g["box"][0] >= x0 and g["box"][2] <= x1
                     and g["box"][1] >= y0 and g["box"][3] <= y1), key=lambda g: g["index"])
    patch = lambda g: (int(((g["box"][1] + g["box"][3]) / 2 * scale) // 14) * grid
                       + int(((g["box"][0] + g["box"][2]) / 2 * scale) // 14))
    cells = [patch(g) for g in digits]
    out = []
    for c in cells:
        if cells.count(c) > 1:
            out.append(None)
        elif kept is not None:
            pos = kept.get(c)
            out.append(None if pos is None else 64 + pos)
        else:
            out.append(c)
    return out


def lm_batch(model, tokens, examples, visual, answer_len, gen, grounding=None, t_min=T_MIN):
    """Masked-diffusion loss over a batch, plus (grounding: per example the evidence_tokens list)
    a grounding loss: the last LLaDA block's attention (every head, mean) from answer position k
    should fall on the visual token that shows digit k. examples: meta dicts; visual: [N, D] each."""
    prefixes, answers = [], []
    for ex, vis in zip(examples, visual):
        ids, pos = tokens.q[ex["question"]]
        prefixes.append(model.embed_prefix(ids, pos, vis))
        answers.append(torch.tensor(tokens.answer(ex["answer"], answer_len)))
    x0 = torch.stack(answers)  # [B, L]
    b = x0.shape[0]
    t = torch.rand(b, 1, generator=gen) * (1 - t_min) + t_min
    m = torch.rand(b, answer_len, generator=gen) < t
    m[:, 0] |= ~m.any(1)  # at least one masked position
    xt = torch.where(m, torch.full_like(x0, tokens.special["mask"]), x0)
    n = max(p.shape[0] for p in prefixes) + answer_len
    d = prefixes[0].shape[1]
    emb = torch.zeros(b, n, d)
    for i, p in enumerate(prefixes):
        emb[i, : p.shape[0]] = p
        emb[i, p.shape[0]: p.shape[0] + answer_len] = model.llm.wte(xt[i])
    probs = [] if grounding is not None else None
    logits = model.llm(emb, [p.shape[0] for p in prefixes], answer_len, probs)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x0.reshape(-1), reduction="none").view(b, answer_len)
    loss = ((ce * m.float()) / t).sum() / (b * answer_len)
    if grounding is not None:
        att = probs[0].mean(1)  # [B, N, N]
        terms = []
        for i, ev in enumerate(grounding):
            ids, pos = tokens.q[examples[i]["question"]]
            plen = prefixes[i].shape[0]
            for k, tok in enumerate(ev):
                if tok is not None:
                    terms.append(-torch.log(att[i, plen + k, pos + tok] + 1e-6))
        if terms:
            loss = loss + 0.5 * torch.stack(terms).mean()
    return loss


@torch.no_grad()
def generate(model, tokens, ex, vis, length=ANSWER_LEN):
    """LaViDa low-confidence remasking, one token per step, answer of `length` tokens."""
    ids, pos = tokens.q[ex["question"]]
    prefix = model.embed_prefix(ids, pos, vis)
    mask_id = tokens.special["mask"]
    x = torch.full((length,), mask_id, dtype=torch.long)
    for _ in range(length):
        emb = torch.cat([prefix, model.llm.wte(x)]).unsqueeze(0)
        logits = model.llm(emb, [prefix.shape[0]], length)[0]
        logits[:, mask_id] = float("-inf")
        p = torch.softmax(logits, -1)
        conf, x0 = p.max(-1)
        conf[x != mask_id] = float("-inf")
        j = int(conf.argmax())
        x[j] = x0[j]
    out = []
    for t in x.tolist():
        if t in (tokens.special["eot"], tokens.special["eos"]):
            break
        out.append(t)
    return out


def answer_text_ids(tokens, text):
    return list(tokens.a[text][:-1])


# ---------------------------------------------------------------- oracle visual tokens
class Oracle:
    """Fixed 'ideal' visual tokens [D] (LM input space) for what a patch shows: background, an
    unreadable digit (two digit centres in one patch), or digit d with index i in a number whose
    region cue is t (E_bg, E_blur, E_d + E_i + E_t). Random but fixed by the seed. Stage 'lm'
    teaches LLaDA to answer from these; stage 'vision' teaches SigLIP + projector to produce them
    (distillation per patch); both stages run in parallel. See docs/demo-model.md."""

    def __init__(self, d, seed, use_index=True):
        g = torch.Generator().manual_seed(seed + 101)
        r = lambda n: torch.randn(n, d, generator=g) * 0.3
        self.bg, self.blur = r(1)[0], r(1)[0]
        self.digit, self.index, self.tag = r(10), r(N_INDEX), r(N_TAG)
        if not use_index:  # E_d + E_t only: the LM orders the digits by their positions
            self.index = torch.zeros_like(self.index)

    def tokens(self, targets):
        digit, index, tag = targets
        out = self.bg.expand(digit.shape[0], -1).clone()
        blur = digit == IGNORE
        out[blur] = self.blur
        on = (digit != 10) & ~blur
        out[on] = self.digit[digit[on]] + self.index[index[on]] + self.tag[tag[on]]
        weight = torch.full((digit.shape[0],), 0.2)
        weight[blur | on] = 1.0
        return out, weight


def oracle_view(oracle, ex, kind, rng):
    """Oracle visual tokens of one example as the LM would see them in a layout:
    g27 (baseline-384, 729), g48 (full-672, 2304), shirg (64 scaffold + 1152 cells of the 48 grid:
    every digit cell plus random others) or sparseN (curriculum only: every digit cell of the 48
    grid plus N random background cells, in raster order). Returns (tokens [N, D], grounding
    targets: per answer digit the index of its visual token, or None)."""
    if kind == "g27":
        return oracle.tokens(dense_targets(ex["glyphs"], 27, 384 / 672))[0], evidence_tokens(ex, 27, 384 / 672)
    t48 = oracle.tokens(dense_targets(ex["glyphs"], 48, 1.0))[0]
    if kind == "g48":
        return t48, evidence_tokens(ex, 48, 1.0)
    digit = dense_targets(ex["glyphs"], 48, 1.0)[0]
    must = set((digit != 10).nonzero().view(-1).tolist())
    rest = [c for c in range(48 * 48) if c not in must]
    rng.shuffle(rest)
    sparse = kind.startswith("sparse")
    cells = sorted(list(must) + rest[: int(kind[len("sparse"):]) if sparse else 1152 - len(must)])
    kept = {c: r for r, c in enumerate(cells)}
    if sparse:  # no scaffold in front: token index = rank among the kept cells
        return t48[cells], [None if e is None else e - 64 for e in evidence_tokens(ex, 48, 1.0, kept)]
    scaffold = shirg_select.scaffold(t48, 48)
    return torch.cat([scaffold, t48[cells]]), evidence_tokens(ex, 48, 1.0, kept)


def lm_curriculum(total):
    """The layout of every LM step: a tiny transformer learns the cue-binding copy task quickly on
    short sequences (a few hundred steps) and does not learn it at all in that time on the real
    729-2,304-token layouts (docs/demo-model.md); so: 45% sparse64, 20% sparse256, then the real
    layouts (g27, shirg, g48 and a sparse256 reminder, interleaved)."""
    n1, n2 = int(total * 0.45), int(total * 0.20)
    real = ["g27", "shirg", "g27", "sparse256", "shirg", "g48"]
    return ["sparse64"] * n1 + ["sparse256"] * n2 + [real[i % len(real)] for i in range(total - n1 - n2)]


# ---------------------------------------------------------------- stages
def stage_lm(a, model, tokens, oracle, rng, gen):
    """LLaDA (wte, blocks, head) on oracle visual tokens: masked diffusion + grounding, following
    lm_curriculum()."""
    params = list(model.llm.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    t0, idx = time.time(), 0
    plan = lm_curriculum(a.steps_lm)
    for step, kind in enumerate(plan):
        for gp in opt.param_groups:
            gp["lr"] = a.lr * lr_factor(step, a.steps_lm)
        n = a.batch if kind in ("g27", "sparse64", "sparse256") else max(1, a.batch // (2 if kind == "shirg" else 4))
        batch = [vqa_data.make_example(TRAIN_SEED, idx + i)[1] for i in range(n)]
        idx += n
        views = [oracle_view(oracle, ex, kind, rng) for ex in batch]
        with a.autocast():
            loss = lm_batch(model, tokens, batch, [v for v, _ in views], ANSWER_LEN, gen, [g for _, g in views],
                            t_min=a.t_min)
        optimizer_step(opt, params, loss)
        progress("lm", step, a.steps_lm, t0, f"{kind} loss {loss.item():.3f}")
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps_lm:
            log(f"[lm] held-out on oracle tokens: g27 {eval_oracle(model, tokens, oracle, a, 'g27')} | "
                f"shirg {eval_oracle(model, tokens, oracle, a, 'shirg')} | "
                f"g48 {eval_oracle(model, tokens, oracle, a, 'g48')}")
    return {k: v for k, v in model.state_dict().items() if k.startswith("llm.")}


def glyph_crop(ex, rng):
    """A 384x384 window of the 672x672 image at native resolution (the seed's high-resolution
    pre-adaptation), aligned to the 14-px patch grid and placed so that it shows a random glyph."""
    gl = rng.choice(ex["glyphs"])
    cx, cy = (gl["box"][0] + gl["box"][2]) / 2, (gl["box"][1] + gl["box"][3]) / 2
    x = int(min(max(cx - rng.randint(40, 344), 0), 288) // 14 * 14)
    y = int(min(max(cy - rng.randint(40, 344), 0), 288) // 14 * 14)
    return x, y


def stage_vision(a, model, heads, oracle, rng):
    """SigLIP + projector: per-patch classification heads (digit, index, cue) and distillation of
    the projector output to the oracle tokens (weighted MSE), on 384x384 views (LaViDa's setting),
    native-resolution 384x384 crops of the 672x672 images placed on glyphs (where the fine digits
    are legible) and, every --hires-every steps, a 672x672 view (the interpolated positions)."""
    params = list(model.vision.parameters()) + list(model.projector.parameters()) + list(heads.parameters())
    params = [p for p in params if p.requires_grad]
    lr = a.lr * 0.5  # measured: 2e-3 and above stall the tower on the fine digits
    distill_from = int(a.steps_vision * 0.3)  # the heads first (reading), then the oracle tokens
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    t0, idx = time.time(), 0

    def view_loss(px, targets, distill):
        feats = model.vision(px)
        loss = heads.loss(feats, targets)
        if not distill:
            return loss
        proj = model.projector(feats)
        for p, t in zip(proj, targets):
            loss = loss + distill_loss(p, *oracle.tokens(t))
        return loss

    lm_done = os.path.join(a.out, ".stage_lm.pt")
    n_full = max(1, a.batch // 4)
    for step in range(a.steps_vision):
        if torch.get_num_threads() < 2 * a.threads and os.path.exists(lm_done):
            torch.set_num_threads(2 * a.threads)  # stage lm has finished: take its threads too
            log("[vision] stage lm finished: using its threads too")
        for gp in opt.param_groups:
            gp["lr"] = lr * lr_factor(step, a.steps_vision)
        # Crops: half from the fine family (the one that needs 672x672), the rest round robin.
        batch = [vqa_data.make_example(TRAIN_SEED, idx + i, "boxes" if i >= n_full and i % 2 else None)
                 for i in range(a.batch)]
        idx += a.batch
        xy = [glyph_crop(ex, rng) for _, ex in batch[n_full:]]
        distill = step >= distill_from
        with a.autocast():
            loss = view_loss(torch.stack([to_pixels(img, 384) for img, _ in batch[:n_full]]),
                             [dense_targets(ex["glyphs"], 27, 384 / 672) for _, ex in batch[:n_full]], distill)
            loss = loss + view_loss(
                torch.stack([to_pixels(img.crop((x, y, x + 384, y + 384)), 384) for (img, _), (x, y) in zip(batch[n_full:], xy)]),
                [dense_targets(ex["glyphs"], 27, 1.0, x, y) for (_, ex), (x, y) in zip(batch[n_full:], xy)], distill)
            if a.hires_every > 0 and step % a.hires_every == 0:
                img, ex = batch[0]
                loss = loss + view_loss(to_pixels(img, 672).unsqueeze(0), [dense_targets(ex["glyphs"], 48, 1.0)], distill)
        optimizer_step(opt, params, loss)
        progress("vision", step, a.steps_vision, t0, f"loss {loss.item():.3f}")
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps_vision:
            log(f"[vision] held-out digit patches at 672 read (nearest oracle part): {eval_vision(model, oracle, a)}")
    keep = ("vision.", "projector.")
    return {"model": {k: v for k, v in model.state_dict().items() if k.startswith(keep)},
            "heads": heads.state_dict()}


def distill_loss(proj, want, weight):
    """MSE of the projector outputs [N, D] of one view to its oracle tokens [N, D], the digit
    patches (weight 1: a digit, or two in one patch) counting as much as all background patches
    together. A view has 20-60 digit patches among 729-2,304; with a plain weighted mean the
    digit tokens stayed far from their targets (attempt 4 at 384x384: MSE 0.17 per dimension on
    digit patches, 0.0004 on background) and the LM answered 0/12 from them."""
    e = ((proj.float() - want) ** 2).mean(-1)
    on = weight >= 1
    loss = e[~on].mean()
    return loss + e[on].mean() if bool(on.any()) else loss


@torch.no_grad()
def tower_features(model, images, sides):
    """fp32 SigLIP features of every image at every side: [(feats [g*g, Dv], side, example)]."""
    out = []
    for img, ex in images:
        for side in sides:
            out.append((model.vision(to_pixels(img, side).unsqueeze(0))[0].float(), side, ex))
    return out


def stage_projector(a, model, oracle, rng):
    """SigLIP frozen; the projector distilled again to the oracle tokens with distill_loss, on
    cached features of 384x384 and 672x672 views of --projector-images training images (the
    tower's features are fixed, so this costs one tower pass per view). Measured on attempt 4's
    stages: held-out 384x384 answers 0/24 -> chart 8/8, receipt 2/8 (docs/demo-model.md)."""
    t0 = time.time()
    images = [vqa_data.make_example(TRAIN_SEED, 30_000_000 + i) for i in range(a.projector_images)]
    cache = []
    for f, side, ex in tower_features(model, images, (384, 672)):
        grid = side // 14
        cache.append((f, side, ex, *oracle.tokens(dense_targets(ex["glyphs"], grid, side / 672))))
    log(f"[projector] features of {len(cache)} views cached in {time.time() - t0:.0f} s")
    params = list(model.projector.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    t0 = time.time()
    for step in range(a.steps_projector):
        for gp in opt.param_groups:
            gp["lr"] = a.lr * lr_factor(step, a.steps_projector)
        loss = sum(distill_loss(model.projector(f), want, w) for f, _, _, want, w in rng.sample(cache, a.batch))
        optimizer_step(opt, params, loss / a.batch)
        progress("projector", step, a.steps_projector, t0, f"loss {loss.item() / a.batch:.4f}")
    return cache


def stage_align(a, model, tokens, cache, rng, gen):
    """LaViDa's second stage at small scale: SigLIP frozen, the projector and LLaDA trained together
    on the real projector outputs of the cached views (stage_projector's), in the layouts the server
    runs: g48 (full-672), shirg (the training-side selection) and g27 (baseline-384), cycling
    g48, shirg, g48, g27; loss = masked diffusion + grounding + the distillation loss (keeps the
    tokens near the oracle ones the LM learnt). Stage lm sees the 48x48 layout least (oracle tokens,
    one step in six of its last 35%), and the LM's tolerance of approximate tokens there varied
    between runs (full-672 60% vs 90%, docs/demo-model.md): this stage trains it on them."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = list(model.projector.parameters()) + list(model.llm.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=a.lr_align, weight_decay=0.0)
    views = {384: [c for c in cache if c[1] == 384], 672: [c for c in cache if c[1] == 672]}
    kinds = ("g48", "shirg", "g48", "g27")
    t0 = time.time()
    for step in range(a.steps_align):
        for gp in opt.param_groups:
            gp["lr"] = a.lr_align * lr_factor(step, a.steps_align)
        kind = kinds[step % len(kinds)]
        batch = rng.sample(views[384 if kind == "g27" else 672], a.batch_align)
        vis, ground, distill = [], [], 0
        with a.autocast():
            for f, side, ex, want, w in batch:
                grid = side // 14
                if kind == "shirg":
                    kept = {}
                    vis.append(visual_tokens(model, f, "shirg", grid, kept_out=kept))
                    ground.append(evidence_tokens(ex, grid, 1.0, kept))
                    distill = distill + distill_loss(model.projector(f), want, w)
                else:
                    proj = model.projector(f)
                    vis.append(proj)
                    ground.append(evidence_tokens(ex, grid, side / 672))
                    distill = distill + distill_loss(proj, want, w)
            loss = lm_batch(model, tokens, [c[2] for c in batch], vis, ANSWER_LEN, gen, ground)
        optimizer_step(opt, params, loss + distill / len(batch))
        progress("align", step, a.steps_align, t0, f"{kind} loss {loss.item():.3f} distill {distill.item() / len(batch):.4f}")


def stage_shirg_lora(a, model, heads, tokens, rng, gen):
    """Base frozen; PEFT LoRA on the projector, SigLIP q/k/v and coord_rotary, at 672x672 with
    the training-side SHIRG selection in the loop: masked diffusion + grounding + distillation."""
    for p in list(model.parameters()) + list(heads.parameters()):
        p.requires_grad_(False)
    lora_gen = torch.Generator().manual_seed(a.seed + 1)
    for mod in model.lora_modules().values():
        mod.add_lora(a.lora_rank, a.lora_alpha, lora_gen)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr * 0.5, weight_decay=0.0)
    t0, idx = time.time(), 10_000_000  # examples not seen by the other stages
    for step in range(a.steps_lora):
        for gp in opt.param_groups:
            gp["lr"] = a.lr * 0.5 * lr_factor(step, a.steps_lora)
        batch = [vqa_data.make_example(TRAIN_SEED, idx + i) for i in range(2)]
        idx += 2
        with a.autocast():
            feats = model.vision(torch.stack([to_pixels(img, 672) for img, _ in batch]))
            kept = [{} for _ in batch]
            vis = [visual_tokens(model, f, "shirg", 48, kept_out=kp) for f, kp in zip(feats, kept)]
            loss = lm_batch(model, tokens, [ex for _, ex in batch], vis, ANSWER_LEN, gen,
                            [evidence_tokens(ex, 48, 1.0, kp) for (_, ex), kp in zip(batch, kept)])
        optimizer_step(opt, params, loss)
        progress("shirg-lora", step, a.steps_lora, t0, f"loss {loss.item():.3f}")


def optimizer_step(opt, params, loss):
    """One AdamW step of every stage: backward, gradient norm clipped at 1."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def lr_factor(step, total):
    return min(1.0, (step + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / total)))


def progress(stage, step, total, t0, what):
    if step % 10 == 0 or step + 1 == total:
        el = time.time() - t0
        log(f"[{stage} {step + 1}/{total} {100 * (step + 1) / total:.0f}% {el / 60:.1f} min, "
            f"eta {el / (step + 1) * (total - step - 1) / 60:.1f} min] {what}")


@torch.no_grad()
def eval_oracle(model, tokens, oracle, a, kind):
    rng = random.Random(5)
    right = n = 0
    for i in range(a.eval_count):
        _, ex = vqa_data.make_example(HELDOUT_SEED, i)
        vis, _ = oracle_view(oracle, ex, kind, rng)
        with a.autocast():
            out = generate(model, tokens, ex, vis)
        right += out == answer_text_ids(tokens, ex["answer"])
        n += 1
    return f"{right}/{n}"


@torch.no_grad()
def eval_vision(model, oracle, a):
    """Held-out digit patches of 672x672 views read right (nearest oracle digit of the projector
    output, after removing the index and cue parts), per family."""
    right = {f: [0, 0, 0] for f in vqa_data.FAMILIES}
    for i in range(a.eval_count):
        img, ex = vqa_data.make_example(HELDOUT_SEED, i)
        with a.autocast():
            proj = model.projector(model.vision(to_pixels(img, 672).unsqueeze(0))[0]).float()
        digit, index, tag = dense_targets(ex["glyphs"], 48, 1.0)
        on = (digit != 10) & (digit != IGNORE)
        rest = proj[on] - oracle.index[index[on]] - oracle.tag[tag[on]]
        pred = torch.cdist(rest, oracle.digit).argmin(-1)
        right[ex["family"]][0] += int((pred == digit[on]).sum())
        if bool(oracle.index.any()):  # the index part, the digit and cue parts removed
            rest = proj[on] - oracle.digit[digit[on]] - oracle.tag[tag[on]]
            right[ex["family"]][1] += int((torch.cdist(rest, oracle.index).argmin(-1) == index[on]).sum())
        right[ex["family"]][2] += int(on.sum())
    return " ".join(f"{f} digit {r}/{n} index {ri}/{n}" for f, (r, ri, n) in right.items())


@torch.no_grad()
def eval_end_to_end(model, tokens, a, side, use_shirg):
    right = {f: [0, 0] for f in vqa_data.FAMILIES}
    for i in range(a.eval_count):
        img, ex = vqa_data.make_example(HELDOUT_SEED, i)
        with a.autocast():
            feats = model.vision(to_pixels(img, side).unsqueeze(0))[0]
            vis = visual_tokens(model, feats, "shirg" if use_shirg else "plain", side // 14)
            out = generate(model, tokens, ex, vis)
        right[ex["family"]][0] += out == answer_text_ids(tokens, ex["answer"])
        right[ex["family"]][1] += 1
    return " ".join(f"{f} {r}/{n}" for f, (r, n) in right.items())


# ---------------------------------------------------------------- main
def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "models/demo"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="threads of the whole run (stages lm and vision get half each)")
    ap.add_argument("--steps-lm", type=int, default=2000)
    ap.add_argument("--steps-vision", type=int, default=900)
    ap.add_argument("--steps-lora", type=int, default=60)
    ap.add_argument("--steps-projector", type=int, default=1500)
    ap.add_argument("--projector-images", type=int, default=300)
    ap.add_argument("--steps-align", type=int, default=720)
    ap.add_argument("--batch-align", type=int, default=4)
    ap.add_argument("--lr-align", type=float, default=5e-4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--t-min", type=float, default=T_MIN, help="smallest mask ratio of the diffusion loss")
    ap.add_argument("--lora-rank", type=int, default=16)
    ap.add_argument("--lora-alpha", type=int, default=32)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-count", type=int, default=24)
    ap.add_argument("--hires-every", type=int, default=3, help="a 672x672 view every N vision steps")
    ap.add_argument("--no-oracle-index", action="store_true",
                    help="oracle tokens without the digit's index in its number (E_d + E_t)")
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                    help="matmul precision of training (auto: bf16 autocast where the CPU has native bf16)")
    ap.add_argument("--init-base", metavar="DIR",
                    help="experiment: skip stages lm and vision and start from DIR's model.safetensors")
    ap.add_argument("--stage", choices=("all", "lm", "vision"), default="all", help=argparse.SUPPRESS)
    return ap.parse_args()


def load_setup(a):
    config = json.load(open(os.path.join(a.out, "config.json")))
    tok_json = json.load(open(os.path.join(a.out, "tokenizer.json")))
    sp = {t["content"]: t["id"] for t in tok_json["added_tokens"]}
    special = {"mask": sp["<|mdm_mask|>"], "eos": sp["<|endoftext|>"], "eot": sp["<|eot_id|>"]}
    q, ans = tokenize_all(a.build, a.out)
    return config, Tokens(q, ans, special)


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    use_bf16 = a.precision == "bf16" or (a.precision == "auto" and native_bf16())
    a.autocast = lambda: torch.cpu.amp.autocast(enabled=use_bf16, dtype=torch.bfloat16)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    rng = random.Random(a.seed)
    if a.stage != "all":  # a child process of the parallel stages
        config, tokens = load_setup(a)
        model = lm.LavidaModel(config)
        init_weights(model, gen)
        oracle = Oracle(config["d_model"], a.seed, not a.no_oracle_index)
        if a.stage == "lm":
            torch.save(stage_lm(a, model, tokens, oracle, rng, gen), os.path.join(a.out, ".stage_lm.pt"))
        else:
            heads = DenseHeads(config["vision_config"]["hidden_size"])
            torch.save(stage_vision(a, model, heads, oracle, rng), os.path.join(a.out, ".stage_vision.pt"))
        return

    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    corpus = os.path.join(a.out, ".corpus.txt")
    make_corpus(corpus)
    subprocess.run([os.path.join(a.build, "tools/model_writer/shirg-make-checkpoint"), "--preset", "demo",
                    "--out", a.out, "--seed", str(a.seed), "--corpus", corpus], check=True)
    os.remove(corpus)
    config, tokens = load_setup(a)
    log(f"vocab {config['vocab_size']}, questions {len(tokens.q)}, bf16 autocast {use_bf16}")
    if a.init_base:
        # An experiment, not the shipped recipe: the later stages on another base model (e.g. one
        # the same command trained on another machine), to see how much of their result depends
        # on the base. With --steps-projector 0 the base's projector is kept as it is.
        log(f"stages lm and vision skipped: the base model is {a.init_base}/model.safetensors")
        model = lm.load_checkpoint(a.init_base).train()
        heads = DenseHeads(config["vision_config"]["hidden_size"])
    else:
        # Stages lm and vision are independent (both learn against the fixed oracle tokens): run them
        # in parallel, one half of the threads each; their logs are prefixed [lm] / [vision].
        half = max(1, a.threads // 2)
        common = [sys.executable, os.path.abspath(__file__), "--out", a.out, "--build", a.build, "--seed", str(a.seed),
                  "--threads", str(half), "--batch", str(a.batch), "--lr", str(a.lr), "--t-min", str(a.t_min), "--eval-every", str(a.eval_every),
                  "--eval-count", str(a.eval_count), "--hires-every", str(a.hires_every), "--precision", a.precision,
                  "--steps-lm", str(a.steps_lm), "--steps-vision", str(a.steps_vision)] + (
                      ["--no-oracle-index"] if a.no_oracle_index else [])
        procs = [subprocess.Popen(common + ["--stage", s]) for s in ("lm", "vision")]
        if any(p.wait() != 0 for p in procs):
            raise SystemExit("a training stage failed")
        model = lm.LavidaModel(config)
        init_weights(model, gen)
        heads = DenseHeads(config["vision_config"]["hidden_size"])
        sv = torch.load(os.path.join(a.out, ".stage_vision.pt"))
        state = model.state_dict()
        state.update(torch.load(os.path.join(a.out, ".stage_lm.pt")))
        state.update(sv["model"])
        model.load_state_dict(state)
        heads.load_state_dict(sv["heads"])
    cache = stage_projector(a, model, Oracle(config["d_model"], a.seed, not a.no_oracle_index), rng)
    log(f"after the projector stage: held-out 384 {eval_end_to_end(model, tokens, a, 384, False)} | "
        f"672 {eval_end_to_end(model, tokens, a, 672, False)} | shirg {eval_end_to_end(model, tokens, a, 672, True)}")
    stage_align(a, model, tokens, cache, rng, gen)
    del cache
    log(f"base model (after the align stage): held-out 384 {eval_end_to_end(model, tokens, a, 384, False)} | "
        f"672 {eval_end_to_end(model, tokens, a, 672, False)} | shirg {eval_end_to_end(model, tokens, a, 672, True)}")
    stage_shirg_lora(a, model, heads, tokens, rng, gen)
    log(f"with the SHIRG adapter: held-out shirg {eval_end_to_end(model, tokens, a, 672, True)}")
    export(model, a.out, a.lora_rank, a.lora_alpha)
    for f in (".stage_lm.pt", ".stage_vision.pt"):
        if os.path.exists(os.path.join(a.out, f)):
            os.remove(os.path.join(a.out, f))
    log(f"done in {(time.time() - t0) / 60:.1f} min")


def init_weights(model, gen):
    for name, p in model.named_parameters():
        if "coord_rotary" in name:
            continue
        if p.dim() >= 2:
            fan_in = p[0].numel()
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
    with torch.no_grad():
        model.vision.position_embedding.copy_(torch.randn(model.vision.position_embedding.shape, generator=gen) * 0.02)
        model.llm.wte.weight.copy_(torch.randn(model.llm.wte.weight.shape, generator=gen) * 0.02)


def export(model, out, rank, alpha):
    tensors = {k: v.detach().float().contiguous() for k, v in model.named_checkpoint_tensors().items()}
    existing = safetensors_io.load(os.path.join(out, "model.safetensors"))
    missing = set(existing) ^ set(tensors)
    if missing:
        raise RuntimeError(f"tensor names differ from the writer's checkpoint: {sorted(missing)[:10]}")
    for k in tensors:
        if list(existing[k].shape) != list(tensors[k].shape):
            raise RuntimeError(f"{k}: shape {list(tensors[k].shape)} vs the writer's {list(existing[k].shape)}")
    safetensors_io.save(tensors, os.path.join(out, "model.safetensors"))
    # The server's default answer length (an unset gen_length) is generation_config.json's
    # max_new_tokens: the length the answers were trained at.
    gen_path = os.path.join(out, "generation_config.json")
    gen_cfg = json.load(open(gen_path))
    gen_cfg["max_new_tokens"] = ANSWER_LEN
    json.dump(gen_cfg, open(gen_path, "w"), indent=2)
    adir = os.path.join(out, "shirg-lora")
    os.makedirs(adir, exist_ok=True)
    lora = {}
    for name, mod in model.lora_modules().items():
        lora[f"base_model.model.{name}.lora_A.weight"] = mod.lora_A.detach().float()
        lora[f"base_model.model.{name}.lora_B.weight"] = mod.lora_B.detach().float()
    safetensors_io.save(lora, os.path.join(adir, "adapter_model.safetensors"))
    json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "models/demo", "r": rank,
               "lora_alpha": alpha, "lora_dropout": 0.0, "bias": "none",
               "target_modules": ["mm_projector.0", "mm_projector.2", "q_proj", "k_proj", "v_proj", "coord_rotary"]},
              open(os.path.join(adir, "adapter_config.json"), "w"), indent=2)


if __name__ == "__main__":
    main()

"""Trains the SHIRG demo model from scratch on CPU (one command, reproducible from --seed).

  /usr/bin/python3 training/train.py --out models/demo [--seed 0] [--minutes-base 55] [--minutes-lora 20]

Writes a LaViDa-format checkpoint to OUT/ (config.json, model.safetensors in F32, tokenizer.json,
tokenizer_config.json, generation_config.json: the directory layout and tensor names are written by
`shirg-make-checkpoint --preset demo`, whose random weights are replaced) and the SHIRG PEFT LoRA
adapter to OUT/shirg-lora/. Stages (the seed's recipe at small scale, docs/demo-model.md):
  1. base: vision tower + projector + LLaDA trained jointly, masked-diffusion loss on the answer
     (mask ratio t ~ U(0, 1] per example, loss weighted by 1/t, the prefix never attends to the
     answer) on 384x384 views (LaViDa's setting), plus dense per-patch targets the generator knows
     (which digit is where, its index in its number, its region cue) on 384x384 views and on
     384x384 native-resolution crops of the 672x672 images (the seed's SigLIP high-resolution
     pre-adaptation), and a share of 672x672 full views (mixed resolution).
  2. shirg: base frozen; LoRA on the projector, the SigLIP q/k/v and coord_rotary, trained at
     672x672 with SHIRG selection (64 scaffold + K tokens, coordinates) in the loop.
Every stage runs for a fixed number of optimizer steps (--steps-*; the time flags only report), so
a run is reproducible given the seed and the thread count. Progress lines print loss, speed and
held-out accuracy (seed 2's examples; the training set is seed 1's).
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
        return ld + 0.5 * li + 0.5 * lt


# ---------------------------------------------------------------- the LM part
class Tokens:
    def __init__(self, q, a, special, answer_len):
        self.q, self.a, self.special, self.answer_len = q, a, special, answer_len

    def answer(self, text, length):
        ids = list(self.a[text])
        return ids + [self.special["eos"]] * (length - len(ids))


def visual_tokens(model, feats, mode, g, k=1152):
    """feats [Nv, Dv] of one view -> visual tokens [N, D] for the LM (mode: plain | shirg)."""
    if mode == "plain":
        return model.projector(feats)
    kept = shirg_select.select(feats, k, g)
    coords = shirg_select.coords_for(kept, g)
    hi = feats[kept]
    hi = hi + model.coord_rotary(lm.coord_rotary_features(coords[64:]))  # hi-detail tokens only (seed 4.1)
    toks = torch.cat([shirg_select.scaffold(feats, g), hi], dim=0)
    return model.projector(toks)


def lm_batch(model, tokens, examples, visual, answer_len, gen, train=True):
    """Masked-diffusion loss over a batch. examples: list of meta dicts; visual: list of [N, D]."""
    prefixes, answers, masked = [], [], []
    for ex, vis in zip(examples, visual):
        ids, pos = tokens.q[ex["question"]]
        prefixes.append(model.embed_prefix(ids, pos, vis))
        answers.append(torch.tensor(tokens.answer(ex["answer"], answer_len)))
    x0 = torch.stack(answers)  # [B, L]
    b = x0.shape[0]
    t = (torch.rand(b, 1, generator=gen) * 0.999 + 0.001)
    m = torch.rand(b, answer_len, generator=gen) < t
    m[:, 0] |= ~m.any(1)  # at least one masked position
    xt = torch.where(m, torch.full_like(x0, tokens.special["mask"]), x0)
    n = max(p.shape[0] for p in prefixes) + answer_len
    d = prefixes[0].shape[1]
    emb = torch.zeros(b, n, d)
    for i, p in enumerate(prefixes):
        emb[i, : p.shape[0]] = p
        emb[i, p.shape[0]: p.shape[0] + answer_len] = model.llm.wte(xt[i])
    logits = model.llm(emb, [p.shape[0] for p in prefixes], answer_len)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x0.reshape(-1), reduction="none").view(b, answer_len)
    return ((ce * m.float()) / t).sum() / (b * answer_len)


@torch.no_grad()
def generate(model, tokens, ex, vis, length=8):
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


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "models/demo"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps-base", type=int, default=800)
    ap.add_argument("--steps-lora", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=160)
    ap.add_argument("--eval-count", type=int, default=24)
    ap.add_argument("--hires-every", type=int, default=4, help="a 672x672 LM example every N steps")
    ap.add_argument("--profile", action="store_true", help="time one step of each kind and exit")
    ap.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                    help="matmul precision of training (auto: bf16 autocast where the CPU has native bf16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    use_bf16 = a.precision == "bf16" or (a.precision == "auto" and native_bf16())
    autocast = lambda: torch.cpu.amp.autocast(enabled=use_bf16, dtype=torch.bfloat16)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    rng = random.Random(a.seed)

    os.makedirs(a.out, exist_ok=True)
    corpus = os.path.join(a.out, ".corpus.txt")
    make_corpus(corpus)
    subprocess.run([os.path.join(a.build, "tools/model_writer/shirg-make-checkpoint"), "--preset", "demo",
                    "--out", a.out, "--seed", str(a.seed), "--corpus", corpus], check=True)
    os.remove(corpus)
    config = json.load(open(os.path.join(a.out, "config.json")))
    tok_json = json.load(open(os.path.join(a.out, "tokenizer.json")))
    special = {t["content"]: t["id"] for t in tok_json["added_tokens"]}
    special = {"mask": special["<|mdm_mask|>"], "eos": special["<|endoftext|>"], "eot": special["<|eot_id|>"]}
    q, ans = tokenize_all(a.build, a.out)
    tokens = Tokens(q, ans, special, 8)
    log(f"vocab {config['vocab_size']}, questions {len(q)}, longest answer {max(len(v) for v in ans.values())} tokens")

    model = lm.LavidaModel(config)
    init_weights(model, gen)
    heads = DenseHeads(config["vision_config"]["hidden_size"])
    heldout = [vqa_data.make_example(HELDOUT_SEED, i) for i in range(a.eval_count)]

    def evaluate(mode_side, use_shirg=False):
        with autocast():
            return evaluate_fp(mode_side, use_shirg)

    def evaluate_fp(mode_side, use_shirg):
        model.eval()
        right = {f: [0, 0] for f in vqa_data.FAMILIES}
        for img, ex in heldout:
            side = mode_side
            feats = model.vision(to_pixels(img, side).unsqueeze(0))[0]
            vis = visual_tokens(model, feats, "shirg" if use_shirg else "plain", side // 14)
            out = generate(model, tokens, ex, vis)
            right[ex["family"]][0] += out == answer_text_ids(tokens, ex["answer"])
            right[ex["family"]][1] += 1
        model.train()
        return " ".join(f"{f} {r}/{n}" for f, (r, n) in right.items())

    # ---- stage 1: base
    params = list(model.parameters()) + list(heads.parameters())
    params = [p for p in params if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    sched = lambda s, total: min(1.0, (s + 1) / 30) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / total)))
    t0 = time.time()
    idx = 0
    for step in range(a.steps_base):
        for gparam in opt.param_groups:
            gparam["lr"] = a.lr * sched(step, a.steps_base)
        half = a.batch // 2
        batch = [vqa_data.make_example(TRAIN_SEED, idx + i) for i in range(a.batch)]
        idx += a.batch
        length = rng.choice((8, 16, 32))
        crop_xy = [(14 * rng.randint(0, 20), 14 * rng.randint(0, 20)) for _ in batch[half:]]
        with autocast():
            # (a) 384x384 views (LaViDa's setting): dense + LM
            views = batch[:half]
            feats = model.vision(torch.stack([to_pixels(img, 384) for img, _ in views]))
            loss_dense = heads.loss(feats, [dense_targets(ex["glyphs"], 27, 384 / 672) for _, ex in views])
            vis = [model.projector(f) for f in feats]
            loss_lm = lm_batch(model, tokens, [ex for _, ex in views], vis, length, gen)
            # (b) native-resolution 384x384 crops of the 672 image: dense only
            crops = [to_pixels(img.crop((ox, oy, ox + 384, oy + 384)), 384)
                     for (img, _), (ox, oy) in zip(batch[half:], crop_xy)]
            cdense = [dense_targets(ex["glyphs"], 27, 1.0, ox, oy) for (_, ex), (ox, oy) in zip(batch[half:], crop_xy)]
            loss_crop = heads.loss(model.vision(torch.stack(crops)), cdense)
            loss = loss_lm + loss_dense + loss_crop
            # (c) mixed resolution: one 672x672 example with dense + LM
            if a.hires_every > 0 and step % a.hires_every == 0:
                img, ex = batch[0]
                f672 = model.vision(to_pixels(img, 672).unsqueeze(0))
                loss = loss + heads.loss(f672, [dense_targets(ex["glyphs"], 48, 1.0)])
                loss = loss + lm_batch(model, tokens, [ex], [model.projector(f672[0])], length, gen)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if a.profile and step == 2:
            log(f"profile: {(time.time() - t0) / 3:.2f} s/step")
            return
        if step % 10 == 0:
            el = time.time() - t0
            log(f"[base {step}/{a.steps_base} {100 * step / a.steps_base:.0f}% {el / 60:.1f} min, "
                f"eta {el / max(step, 1) * (a.steps_base - step) / 60:.1f} min] loss lm {loss_lm.item():.3f} "
                f"dense {loss_dense.item():.3f} crop {loss_crop.item():.3f}")
        if (step + 1) % a.eval_every == 0 or step + 1 == a.steps_base:
            log(f"held-out 384: {evaluate(384)} | 672: {evaluate(672)}")

    # ---- stage 2: SHIRG LoRA at 672 with selection in the loop
    for p in model.parameters():
        p.requires_grad_(False)
    for p in heads.parameters():
        p.requires_grad_(False)
    lora_gen = torch.Generator().manual_seed(a.seed + 1)
    rank, alpha = 16, 32
    for name, mod in model.lora_modules().items():
        mod.add_lora(rank, alpha, lora_gen)
    lparams = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(lparams, lr=a.lr * 0.5, weight_decay=0.0)
    t1 = time.time()
    for step in range(a.steps_lora):
        for gparam in opt.param_groups:
            gparam["lr"] = a.lr * 0.5 * sched(step, a.steps_lora)
        batch = [vqa_data.make_example(TRAIN_SEED, idx + i) for i in range(2)]
        idx += 2
        length = rng.choice((8, 16, 32))
        with autocast():
            feats = model.vision(torch.stack([to_pixels(img, 672) for img, _ in batch]))
            vis = [visual_tokens(model, f, "shirg", 48) for f in feats]
            loss = lm_batch(model, tokens, [ex for _, ex in batch], vis, length, gen)
            loss = loss + heads.loss(feats, [dense_targets(ex["glyphs"], 48, 1.0) for _, ex in batch])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lparams, 1.0)
        opt.step()
        if step % 10 == 0:
            el = time.time() - t1
            log(f"[shirg-lora {step}/{a.steps_lora} {100 * step / a.steps_lora:.0f}% {el / 60:.1f} min, "
                f"eta {el / max(step, 1) * (a.steps_lora - step) / 60:.1f} min] loss {loss.item():.3f}")
    log(f"held-out shirg (K=1152): {evaluate(672, use_shirg=True)}")
    export(model, a.out, rank, alpha)
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

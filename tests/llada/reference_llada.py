#!/usr/bin/python3
"""Independent float64 reference of the LLaDA language model and LaViDa's diffusion sampler.

Written from the public description (/work/shared/reference/lavida.md) for comparison with the
C++ engine; it shares no code with it.

Usage:
  reference_llada.py --weights W.safetensors --config cfg.json --inputs in.safetensors
                     --out out.safetensors [--gens gens.json]

inputs: "prefix" [P, D] float, "answer_ids" [L] int64.
out:    "logits" [L, V] float64 (Prefix-DLM forward: the prefix never sees the answer),
        "gen.<i>" [gen_length] int64 for every generation config i of gens.json.
"""
import argparse
import json
import math
import struct

import torch

# ---------------------------------------------------------------- safetensors (minimal) ----
_DT = {"F64": torch.float64, "F32": torch.float32, "BF16": torch.bfloat16, "I64": torch.int64,
       "I32": torch.int32}
_DT_NAME = {v: k for k, v in _DT.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        buf = bytearray(data[base + b:base + e])
        t = torch.frombuffer(buf, dtype=_DT[info["dtype"]]) if e > b else \
            torch.empty(0, dtype=_DT[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": _DT_NAME[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------------------ the LM (float64) ----
class Llada:
    def __init__(self, weights, cfg):
        g = lambda n: weights["model.transformer." + n].to(torch.float64)
        self.cfg = cfg
        self.d = cfg["d_model"]
        self.h = cfg["n_heads"]
        self.hd = self.d // self.h
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg["rope_theta"]
        self.wte = g("wte.weight")
        self.ln_f = g("ln_f.weight")
        self.head = g("ff_out.weight")
        self.layers = []
        for i in range(cfg["n_layers"]):
            p = "blocks.%d." % i
            self.layers.append({k: g(p + k + ".weight") for k in (
                "attn_norm", "q_proj", "k_proj", "v_proj", "attn_out", "ff_norm", "ff_proj",
                "up_proj", "ff_out")})

    def rms(self, x, w):
        return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):
        # x: [H, T, hd]; rotate pairs (i, i + hd/2) by pos * theta^(-2i/hd).
        half = self.hd // 2
        freq = self.theta ** (-torch.arange(half, dtype=torch.float64) * 2.0 / self.hd)
        ang = pos.to(torch.float64)[:, None] * freq[None, :]
        c, s = torch.cos(ang), torch.sin(ang)
        a, b = x[..., :half], x[..., half:]
        return torch.cat([a * c - b * s, b * c + a * s], dim=-1)

    def logits(self, prefix, answer_ids):
        """Prefix-DLM: rows of the prefix attend to the prefix only, answer rows to everything."""
        p = prefix.shape[0]
        x = torch.cat([prefix.to(torch.float64), self.wte[answer_ids]], dim=0)
        s = x.shape[0]
        pos = torch.arange(s)
        allowed = torch.ones(s, s, dtype=torch.bool)
        allowed[:p, p:] = False
        for L in self.layers:
            h = self.rms(x, L["attn_norm"])
            heads = lambda t: t.reshape(s, self.h, self.hd).transpose(0, 1)
            q = self.rope(heads(h @ L["q_proj"].T), pos)
            k = self.rope(heads(h @ L["k_proj"].T), pos)
            v = heads(h @ L["v_proj"].T)
            sc = q @ k.transpose(1, 2) / math.sqrt(self.hd)
            sc = sc.masked_fill(~allowed, float("-inf"))
            att = torch.softmax(sc, dim=-1) @ v
            x = x + att.transpose(0, 1).reshape(s, self.d) @ L["attn_out"].T
            h = self.rms(x, L["ff_norm"])
            gate = h @ L["ff_proj"].T
            x = x + (gate * torch.sigmoid(gate) * (h @ L["up_proj"].T)) @ L["ff_out"].T
        return self.rms(x[p:], self.ln_f) @ self.head.T


# ------------------------------------------------------------------------------ sampler ----
def uniform_counts(masked, steps):
    base, extra = divmod(masked, steps)
    return [base + (1 if i < extra else 0) for i in range(steps)]


def shift_counts(masked, steps, s):
    # LaViDa's arithmetic: float32 tensors, truncating cast, >= 1, trimmed round-robin, reversed.
    t = torch.linspace(0, 1, steps + 1)
    sig = s * t / (1 + (s - 1) * t)
    cum = (sig * masked).to(torch.int64).tolist()
    n = [max(1, cum[i + 1] - cum[i]) for i in range(steps)]
    over = sum(n) - masked
    i = 0
    while over > 0:
        if n[i] > 1:
            n[i] -= 1
            over -= 1
        i = (i + 1) % steps
    if over < 0:
        n[-1] -= over
    return n[::-1]


def counts(masked, steps, schedule, shift):
    steps = max(1, min(steps, masked))
    return shift_counts(masked, steps, shift) if schedule == "shift" else uniform_counts(masked, steps)


def generate(logits_fn, g):
    L, B, steps = g["gen_length"], g["block_length"], g["steps"]
    mask, limit = g["mask"], g["vocab_limit"]
    nblocks = L // B
    per_block = [steps // nblocks + (1 if b < steps % nblocks else 0) for b in range(nblocks)]
    x = torch.full((L,), mask, dtype=torch.int64)
    gen = torch.Generator().manual_seed(g["seed"])
    for b in range(nblocks):
        for n in counts(B, per_block[b], g["schedule"], g["shift"]):
            lg = logits_fn(x).to(torch.float64).clone()
            lg[:, limit:] = float("-inf")
            lg[:, mask] = float("-inf")
            if g["temperature"] > 0:
                u = torch.rand(lg.shape, generator=gen, dtype=torch.float64)
                score = torch.exp(lg - lg.max(dim=1, keepdim=True).values) / (-torch.log(u)) ** g["temperature"]
                x0 = score.argmax(dim=1)
            else:
                x0 = lg.argmax(dim=1)
            prob = torch.softmax(lg, dim=1)
            rule = g["remasking"]
            if rule == "low_confidence":
                conf = prob.gather(1, x0[:, None])[:, 0]
            elif rule == "random":
                conf = torch.rand((L,), generator=gen, dtype=torch.float64)
            elif rule == "entropy":
                conf = (prob * torch.log(prob + 1e-10)).sum(dim=1)
            elif rule == "margin":
                top = prob.topk(2, dim=1).values
                conf = top[:, 0] - top[:, 1]
            else:
                raise ValueError(rule)
            cand = [i for i in range(b * B, (b + 1) * B) if x[i] == mask]
            cand.sort(key=lambda i: (-float(conf[i]), i))
            for i in cand[:n]:
                x[i] = x0[i]
            if g.get("stop_early", False):
                done = False
                for t in x.tolist():
                    if t == mask:
                        break
                    if t in g.get("stop", []):
                        done = True
                        break
                if done:
                    return x
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--gens")
    a = ap.parse_args()
    torch.set_num_threads(1)
    with open(a.config) as f:
        cfg = json.load(f)
    model = Llada(read_safetensors(a.weights), cfg)
    inp = read_safetensors(a.inputs)
    prefix = inp["prefix"]
    out = {"logits": model.logits(prefix, inp["answer_ids"])}
    if a.gens:
        with open(a.gens) as f:
            gens = json.load(f)
        for i, g in enumerate(gens):
            out["gen.%d" % i] = generate(lambda ids: model.logits(prefix, ids), g)
    write_safetensors(a.out, out)


if __name__ == "__main__":
    main()

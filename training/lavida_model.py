"""The training-side LaViDa model (SigLIP tower, mlp2x_gelu projector, LLaDA), in PyTorch.

It computes what the server computes (engine/vision/siglip.cpp, engine/llada/, shirg/) for the
same checkpoint, with the same tensor names, so that a checkpoint trained here loads in the
server unchanged; tests/training/ checks the logits against the server (fp32, 1e-4).

Contracts: images are float pixels [B, 3, S, S] already normalised ((x/255 - 0.5) / 0.5);
vision features [B, G*G, Dv] in raster order; the LLaDA input is a list of per-example embedding
sequences [P_i + L, D] (prefix then answer); the prefix never attends to the answer (Prefix-DLM,
as the server's prefix cache requires).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

VISION_PREFIX = "model.vision_tower.vision_tower.vision_model."
PROJECTOR_PREFIX = "model.mm_projector."
LLM_PREFIX = "model.transformer."
COORD_MODULE = "model.shirg.coord_rotary"
COORD_FEATURES, COORD_FREQS = 128, 16


class LoraLinear(nn.Module):
    """nn.Linear plus an optional PEFT LoRA delta (B @ A) * alpha / r (A [r, in], B [out, r])."""

    def __init__(self, d_in, d_out, bias=True):
        super().__init__()
        self.base = nn.Linear(d_in, d_out, bias=bias)
        self.lora_A = None
        self.lora_B = None
        self.scale = 0.0

    def add_lora(self, r, alpha, gen):
        self.lora_A = nn.Parameter(torch.randn(r, self.base.in_features, generator=gen) / math.sqrt(self.base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(self.base.out_features, r))  # PEFT: B starts at zero
        self.scale = alpha / r

    def forward(self, x):
        y = self.base(x)
        if self.lora_A is not None:
            y = y + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scale
        return y


def attention(q, k, v, key_mask=None, probs_out=None):
    """q [B, H, Nq, hd], k/v [B, H, Nk, hd]; key_mask [B, Nq or 1, Nk] bool (True = may attend).
    probs_out: a list that receives the fp32 attention probabilities [B, H, Nq, Nk] (training)."""
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if key_mask is not None:
        s = s.masked_fill(~key_mask.unsqueeze(1), float("-inf"))
    p = torch.softmax(s.float(), dim=-1)
    if probs_out is not None:
        probs_out.append(p)
    return p.to(v.dtype) @ v


class SiglipLayer(nn.Module):
    def __init__(self, d, inter, heads, eps):
        super().__init__()
        self.heads, self.eps = heads, eps
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.q_proj, self.k_proj, self.v_proj = LoraLinear(d, d), LoraLinear(d, d), LoraLinear(d, d)
        self.out_proj = nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, inter), nn.Linear(inter, d)

    def forward(self, x):
        b, n, d = x.shape
        h = self.layer_norm1(x)
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        a = attention(split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h)))
        x = x + self.out_proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.layer_norm2(x)), approximate="tanh"))


class Siglip(nn.Module):
    def __init__(self, vc, layers_used):
        super().__init__()
        d, self.patch = vc["hidden_size"], vc["patch_size"]
        self.grid = vc["image_size"] // self.patch
        self.patch_embedding = nn.Conv2d(3, d, self.patch, self.patch)
        self.position_embedding = nn.Parameter(torch.zeros(self.grid * self.grid, d))
        self.layers = nn.ModuleList(
            [SiglipLayer(d, vc["intermediate_size"], vc["num_attention_heads"], vc["layer_norm_eps"])
             for _ in range(layers_used)])

    def positions(self, g):
        if g == self.grid:
            return self.position_embedding
        grid = self.position_embedding.reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        r = F.interpolate(grid, size=(g, g), mode="bicubic", align_corners=False)
        return r.permute(0, 2, 3, 1).reshape(g * g, -1)

    def forward(self, pixels):
        x = self.patch_embedding(pixels)  # [B, D, G, G]
        g = x.shape[-1]
        x = x.flatten(2).transpose(1, 2) + self.positions(g).unsqueeze(0)
        for layer in self.layers:
            x = layer(x)
        return x  # no post_layernorm (LaViDa drops it)


class Projector(nn.Module):
    def __init__(self, dv, d):
        super().__init__()
        self.fc1, self.fc2 = LoraLinear(dv, d), LoraLinear(d, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


def rms_norm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def rope_tables(n, hd, theta):
    """cos, sin [n, hd] fp32 with the angles computed in fp32, as LLaDA's own code and the engine
    (engine/llada/llada.cpp) compute them: at positions in the thousands float64 angles differ by
    ~1e-4 rad, which moved a trained model's logits by ~2e-3 between training and serving."""
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    f = torch.outer(torch.arange(n, dtype=torch.float32), inv)
    emb = torch.cat([f, f], dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


class LladaBlock(nn.Module):
    def __init__(self, d, hidden, heads):
        super().__init__()
        self.heads = heads
        self.attn_norm, self.ff_norm = nn.Parameter(torch.ones(d)), nn.Parameter(torch.ones(d))
        self.q_proj, self.k_proj = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.v_proj, self.attn_out = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.ff_proj, self.up_proj = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
        self.ff_out = nn.Linear(hidden, d, bias=False)

    def forward(self, x, cos, sin, mask, eps, probs_out=None):
        b, n, d = x.shape
        h = rms_norm(x, self.attn_norm, eps)
        split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k = apply_rope(split(self.q_proj(h)), cos, sin), apply_rope(split(self.k_proj(h)), cos, sin)
        a = attention(q, k, split(self.v_proj(h)), mask, probs_out)
        x = x + self.attn_out(a.transpose(1, 2).reshape(b, n, d))
        h = rms_norm(x, self.ff_norm, eps)
        return x + self.ff_out(F.silu(self.ff_proj(h)) * self.up_proj(h))


class Llada(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.eps, self.theta = c["d_model"], c["rms_norm_eps"], c["rope_theta"]
        self.heads = c["n_heads"]
        self.wte = nn.Embedding(c["embedding_size"], d)
        self.blocks = nn.ModuleList([LladaBlock(d, c["mlp_hidden_size"], c["n_heads"]) for _ in range(c["n_layers"])])
        self.ln_f = nn.Parameter(torch.ones(d))
        self.ff_out = nn.Linear(d, c["embedding_size"], bias=False)

    def forward(self, embeds, prefix_lens, answer_len, probs_out=None):
        """embeds [B, N, D] (example i: prefix_lens[i] prefix rows, then answer_len answer rows,
        then padding). Returns the answer logits [B, answer_len, V] in fp32. probs_out: a list
        that receives the last block's attention probabilities (training-side grounding loss)."""
        b, n, _ = embeds.shape
        dev = embeds.device
        pos = torch.arange(n, device=dev)
        pl = torch.as_tensor(prefix_lens, device=dev).view(b, 1)
        total = pl + answer_len
        key_valid = pos.view(1, n) < total                      # [B, N]
        key_is_answer = (pos.view(1, n) >= pl) & key_valid
        query_is_prefix = (pos.view(1, n) < pl)
        # prefix queries see prefix keys only; answer queries see prefix + answer.
        mask = key_valid.unsqueeze(1) & ~(query_is_prefix.unsqueeze(2) & key_is_answer.unsqueeze(1))
        cos, sin = rope_tables(n, embeds.shape[-1] // self.heads, self.theta)
        cos, sin = cos.to(dev), sin.to(dev)
        x = embeds
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, mask, self.eps, probs_out if i == len(self.blocks) - 1 else None)
        idx = (pl + torch.arange(answer_len, device=dev).view(1, -1))  # [B, L]
        ans = torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        return self.ff_out(rms_norm(ans, self.ln_f, self.eps)).float()


def coord_rotary_features(coords):
    """coords [N, 4] (x, y, w, h) in [0, 1] -> [N, 128] (docs/shirg.md: sin block, cos block per coordinate)."""
    k = torch.arange(COORD_FREQS, dtype=torch.float64)
    omega = (2.0 * math.pi * 0.5 * torch.pow(torch.tensor(48.0, dtype=torch.float64), k / (COORD_FREQS - 1))).float()
    ang = coords.float().unsqueeze(2) * omega.view(1, 1, -1)
    return torch.cat([ang.sin(), ang.cos()], dim=2).reshape(coords.shape[0], COORD_FEATURES)


class LavidaModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        vc = config["vision_config"]
        self.vision = Siglip(vc, vc["num_hidden_layers"] - 1)
        self.projector = Projector(vc["hidden_size"], config["d_model"])
        self.llm = Llada(config)
        # LaViDa's anyres newline token (lavida-hd layout only; never trained here).
        self.image_newline = nn.Parameter(torch.zeros(config["d_model"]))
        self.coord_rotary = LoraLinear(COORD_FEATURES, vc["hidden_size"], bias=False)
        nn.init.zeros_(self.coord_rotary.base.weight)  # base weight zero: only the adapter gives it a value
        self.coord_rotary.base.weight.requires_grad_(False)

    # --- tensor names (the real LaViDa checkpoint layout) ---
    def named_checkpoint_tensors(self):
        out = {}
        v = self.vision
        out[VISION_PREFIX + "embeddings.patch_embedding.weight"] = v.patch_embedding.weight
        out[VISION_PREFIX + "embeddings.patch_embedding.bias"] = v.patch_embedding.bias
        out[VISION_PREFIX + "embeddings.position_embedding.weight"] = v.position_embedding
        for i, l in enumerate(v.layers):
            p = f"{VISION_PREFIX}encoder.layers.{i}."
            for ln in ("layer_norm1", "layer_norm2"):
                out[p + ln + ".weight"], out[p + ln + ".bias"] = getattr(l, ln).weight, getattr(l, ln).bias
            for proj in ("q_proj", "k_proj", "v_proj"):
                m = getattr(l, proj).base
                out[p + f"self_attn.{proj}.weight"], out[p + f"self_attn.{proj}.bias"] = m.weight, m.bias
            out[p + "self_attn.out_proj.weight"], out[p + "self_attn.out_proj.bias"] = l.out_proj.weight, l.out_proj.bias
            for fc in ("fc1", "fc2"):
                out[p + f"mlp.{fc}.weight"], out[p + f"mlp.{fc}.bias"] = getattr(l, fc).weight, getattr(l, fc).bias
        d = self.config["vision_config"]["hidden_size"]
        # post_layernorm exists in real checkpoints and is never applied: identity values.
        out[VISION_PREFIX + "post_layernorm.weight"] = torch.ones(d)
        out[VISION_PREFIX + "post_layernorm.bias"] = torch.zeros(d)
        out[PROJECTOR_PREFIX + "0.weight"], out[PROJECTOR_PREFIX + "0.bias"] = (self.projector.fc1.base.weight,
                                                                                 self.projector.fc1.base.bias)
        out[PROJECTOR_PREFIX + "2.weight"], out[PROJECTOR_PREFIX + "2.bias"] = (self.projector.fc2.base.weight,
                                                                                 self.projector.fc2.base.bias)
        out["model.image_newline"] = self.image_newline
        t = self.llm
        out[LLM_PREFIX + "wte.weight"] = t.wte.weight
        for i, blk in enumerate(t.blocks):
            p = f"{LLM_PREFIX}blocks.{i}."
            out[p + "attn_norm.weight"], out[p + "ff_norm.weight"] = blk.attn_norm, blk.ff_norm
            for name in ("q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"):
                out[p + name + ".weight"] = getattr(blk, name).weight
        out[LLM_PREFIX + "ln_f.weight"] = t.ln_f
        out[LLM_PREFIX + "ff_out.weight"] = t.ff_out.weight
        return out

    def lora_modules(self):
        """PEFT module name -> LoraLinear, for the SHIRG adapter (seed 3.3.3 targets)."""
        mods = {PROJECTOR_PREFIX + "0": self.projector.fc1, PROJECTOR_PREFIX + "2": self.projector.fc2,
                COORD_MODULE: self.coord_rotary}
        for i, l in enumerate(self.vision.layers[:8]):
            for proj in ("q_proj", "k_proj", "v_proj"):
                mods[f"{VISION_PREFIX}encoder.layers.{i}.self_attn.{proj}"] = getattr(l, proj)
        return mods

    def embed_prefix(self, prompt_ids, image_pos, visual):
        """One example's prefix [P, D]: prompt ids with the visual tokens [Nv, D] at image_pos."""
        ids = torch.as_tensor(prompt_ids, dtype=torch.long)
        e = self.llm.wte(ids)
        return torch.cat([e[:image_pos], visual.to(e.dtype), e[image_pos:]], dim=0)


def load_checkpoint(model_dir, adapter_dir=None):
    """A LavidaModel with the weights of a LaViDa-format directory (single model.safetensors) and,
    optionally, a PEFT LoRA adapter (one r / lora_alpha, as train.py writes it)."""
    import json
    import os

    import safetensors_io

    config = json.load(open(os.path.join(model_dir, "config.json")))
    model = LavidaModel(config)
    tensors = safetensors_io.load(os.path.join(model_dir, "model.safetensors"))
    with torch.no_grad():
        for name, param in model.named_checkpoint_tensors().items():
            if name.startswith(VISION_PREFIX + "post_layernorm"):
                continue
            param.copy_(tensors[name].float())
        if adapter_dir:
            acfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
            lora = safetensors_io.load(os.path.join(adapter_dir, "adapter_model.safetensors"))
            gen = torch.Generator().manual_seed(0)
            for name, mod in model.lora_modules().items():
                a = lora.get(f"base_model.model.{name}.lora_A.weight")
                if a is None:
                    continue
                mod.add_lora(acfg["r"], acfg["lora_alpha"], gen)
                mod.lora_A.copy_(a.float())
                mod.lora_B.copy_(lora[f"base_model.model.{name}.lora_B.weight"].float())
    model.eval()
    return model

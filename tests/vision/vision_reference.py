#!/usr/bin/python3
"""Independent reference of the SHIRG server's vision path (PIL + PyTorch, float64).

Written from the public descriptions of SigLIP (Zhai et al. 2023; a pre-norm ViT with learned
position embeddings, tanh-GELU MLP, no class token), LLaVA-NeXT's "anyres" preprocessing and
LaViDa's 2x2 bilinear pooling (see /work/shared/reference/lavida.md). It reads a LaViDa-format
checkpoint directory (config.json + model.safetensors or shards) with its own tiny safetensors
reader and writes its results as a safetensors file. Run with Debian's /usr/bin/python3.

Subcommands:
  formats OUTDIR                     write PNG/JPEG files of many modes + PIL's convert("RGB")
  resize SRC OUT WxH [WxH ...]       PIL BICUBIC resizes of SRC, raw RGB bytes concatenated
  model CKPT_DIR OUT IMG [IMG ...]   preprocessing, SigLIP, projector and the three layouts
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

VISION = "model.vision_tower.vision_tower.vision_model."
DTYPES = {"F32": torch.float32, "F64": torch.float64, "BF16": torch.bfloat16, "F16": torch.float16,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


# ----------------------------------------------------------------------------- safetensors I/O
def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        b, e = meta["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + b:base + e]), dtype=DTYPES[meta["dtype"]])
        out[name] = t.reshape(meta["shape"]).clone()
    return out


def read_checkpoint(ckpt_dir):
    index = os.path.join(ckpt_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for fn in files:
        tensors.update(read_safetensors(os.path.join(ckpt_dir, fn)))
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    names = {torch.float32: "F32", torch.uint8: "U8", torch.int64: "I64"}
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------- preprocessing
def pil_rgb(path):
    with Image.open(path) as im:
        return im.convert("RGB")


def to_pixels(img):
    """SigLIP processor: rescale by 1/255 (float64 -> float32), normalise mean 0.5, std 0.5."""
    a = (np.asarray(img, dtype=np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.float32(0.5)) / np.float32(0.5)
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).double()


# ----------------------------------------------------------------------------- SigLIP + projector
class Reference:
    def __init__(self, ckpt_dir):
        with open(os.path.join(ckpt_dir, "config.json")) as f:
            cfg = json.load(f)
        vc = cfg["vision_config"]
        self.width = vc["hidden_size"]
        self.heads = vc["num_attention_heads"]
        self.patch = vc["patch_size"]
        self.image_size = vc["image_size"]
        self.eps = vc.get("layer_norm_eps", 1e-6)
        self.act = vc.get("hidden_act", "gelu_pytorch_tanh")
        self.pinpoints = [tuple(p) for p in cfg.get("image_grid_pinpoints") or
                          [(384, 768), (768, 384), (768, 768), (1152, 384), (384, 1152)]]
        w = {k: v.double() for k, v in read_checkpoint(ckpt_dir).items()}
        self.w = w
        n = 0
        while f"{VISION}encoder.layers.{n}.layer_norm1.weight" in w:
            n += 1
        # LaViDa's checkpoint already lacks the tower's last layer (select_layer -2); a full tower
        # (num_hidden_layers present) drops it here.
        self.layers = n - 1 if n == vc["num_hidden_layers"] else n

    def embed(self, pixels):
        w, p = self.w, self.patch
        x = F.conv2d(pixels, w[VISION + "embeddings.patch_embedding.weight"],
                     w[VISION + "embeddings.patch_embedding.bias"], stride=p)
        gh, gw = x.shape[2], x.shape[3]
        x = x.flatten(2).transpose(1, 2)
        pos = w[VISION + "embeddings.position_embedding.weight"]
        g = int(round(math.sqrt(pos.shape[0])))
        if (gh, gw) != (g, g):
            grid = pos.reshape(1, g, g, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
            pos = grid.permute(0, 2, 3, 1).reshape(gh * gw, -1)
        return x + pos

    def layer(self, x, i):
        w, pre = self.w, f"{VISION}encoder.layers.{i}."
        lin = lambda t, name: F.linear(t, w[pre + name + ".weight"], w[pre + name + ".bias"])
        norm = lambda t, name: F.layer_norm(t, (self.width,), w[pre + name + ".weight"], w[pre + name + ".bias"], self.eps)
        b, n, d = x.shape
        hd = d // self.heads
        h = norm(x, "layer_norm1")
        split = lambda t: t.reshape(b, n, self.heads, hd).transpose(1, 2)
        q, k, v = split(lin(h, "self_attn.q_proj")), split(lin(h, "self_attn.k_proj")), split(lin(h, "self_attn.v_proj"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v
        x = x + lin(att.transpose(1, 2).reshape(b, n, d), "self_attn.out_proj")
        h = lin(norm(x, "layer_norm2"), "mlp.fc1")
        h = F.gelu(h, approximate="tanh") if self.act == "gelu_pytorch_tanh" else F.gelu(h)
        return x + lin(h, "mlp.fc2")

    def encode(self, pixels):
        x = self.embed(pixels)
        for i in range(self.layers):
            x = self.layer(x, i)
        return x  # no post-layernorm, no head

    def project(self, x):
        w = self.w
        h = F.gelu(F.linear(x, w["model.mm_projector.0.weight"], w["model.mm_projector.0.bias"]))
        return F.linear(h, w["model.mm_projector.2.weight"], w["model.mm_projector.2.bias"])

    # ------------------------------------------------------------------------- layouts
    def single(self, img, side):
        resized = img.resize((side, side), Image.BICUBIC)
        feats = self.encode(to_pixels(resized))[0]
        return resized, feats, self.project(feats)

    def best_resolution(self, size):
        ow, oh = size
        best, best_eff, best_waste = None, 0, float("inf")
        for w, h in self.pinpoints:
            s = min(w / ow, h / oh)
            eff = min(int(ow * s) * int(oh * s), ow * oh)
            waste = w * h - eff
            if eff > best_eff or (eff == best_eff and waste < best_waste):
                best, best_eff, best_waste = (w, h), eff, waste
        return best

    def lavida_hd(self, img):
        side = self.image_size
        tw, th = self.best_resolution(img.size)
        ow, oh = img.size
        if tw / ow < th / oh:
            nw, nh = tw, min(math.ceil(oh * tw / ow), th)
        else:
            nw, nh = min(math.ceil(ow * th / oh), tw), th
        canvas = Image.new("RGB", (tw, th), (0, 0, 0))
        canvas.paste(img.resize((nw, nh), Image.BICUBIC), ((tw - nw) // 2, (th - nh) // 2))
        tiles = [canvas.crop((x, y, x + side, y + side)) for y in range(0, th, side) for x in range(0, tw, side)]
        views = [img.resize((side, side), Image.BICUBIC)] + tiles
        feats = self.project(self.encode(torch.cat([to_pixels(v) for v in views])))  # [V, g*g, D]
        g = side // self.patch
        d = feats.shape[-1]
        pooled = F.interpolate(feats.reshape(-1, g, g, d).permute(0, 3, 1, 2),
                               size=(math.ceil(g / 2), math.ceil(g / 2)), mode="bilinear", align_corners=False)
        p = pooled.shape[-1]
        base = pooled[0].flatten(1).t()
        rows, cols = th // side, tw // side
        grid = torch.zeros(d, rows * p, cols * p, dtype=pooled.dtype)
        for i, t in enumerate(pooled[1:]):
            r, c = divmod(i, cols)
            grid[:, r * p:(r + 1) * p, c * p:(c + 1) * p] = t
        # unpad: crop the rows/columns that only cover the black padding
        gh, gw = grid.shape[1:]
        if ow / oh > gw / gh:
            keep = int(oh * (gw / ow))
            pad = (gh - keep) // 2
            grid = grid[:, pad:gh - pad, :]
        else:
            keep = int(ow * (gh / oh))
            pad = (gw - keep) // 2
            grid = grid[:, :, pad:gw - pad]
        newline = self.w["model.image_newline"].reshape(d, 1, 1).expand(d, grid.shape[1], 1)
        grid = torch.cat([grid, newline], dim=2).flatten(1).t()
        return torch.cat([base, grid]), len(views)


def cmd_model(ckpt_dir, out_path, images):
    ref = Reference(ckpt_dir)
    out = {}
    pos = ref.w[VISION + "embeddings.position_embedding.weight"]
    g = int(round(math.sqrt(pos.shape[0])))
    grid = F.interpolate(pos.reshape(1, g, g, -1).permute(0, 3, 1, 2), size=(48, 48), mode="bicubic",
                         align_corners=False)
    out["pos48"] = grid.permute(0, 2, 3, 1).reshape(48 * 48, -1).float()
    for i, path in enumerate(images):
        img = pil_rgb(path)
        r384, f384, low = ref.single(img, ref.image_size)
        r672, f672, full = ref.single(img, 672)
        hd, views = ref.lavida_hd(img)
        out[f"img{i}.resized384"] = torch.from_numpy(np.array(r384, dtype=np.uint8))
        out[f"img{i}.resized672"] = torch.from_numpy(np.array(r672, dtype=np.uint8))
        out[f"img{i}.siglip384"] = f384.float()
        out[f"img{i}.siglip672"] = f672.float()
        out[f"img{i}.lowres384"] = low.float()
        out[f"img{i}.full672"] = full.float()
        out[f"img{i}.lavida_hd"] = hd.float()
        out[f"img{i}.lavida_hd_views"] = torch.tensor([views], dtype=torch.int64)
    write_safetensors(out_path, out)


# ----------------------------------------------------------------------------- decoding / resize
def cmd_formats(outdir):
    """Images of every supported mode; `<name>.rgb` holds PIL's convert("RGB") of the file."""
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(4)
    h, w = 37, 53
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx * 5) % 256, (yy * 7) % 256, (xx * yy) % 256], -1).astype(np.uint8)
    rgb = np.clip(rgb.astype(np.int32) + rng.integers(-20, 20, rgb.shape), 0, 255).astype(np.uint8)
    base = Image.fromarray(rgb, "RGB")
    alpha = Image.fromarray(((xx * 3 + yy) % 256).astype(np.uint8), "L")
    rgba = base.copy()
    rgba.putalpha(alpha)
    la = base.convert("L")
    la.putalpha(alpha)
    pal_t = base.convert("P", palette=Image.ADAPTIVE, colors=16)
    pal_t.info["transparency"] = 3
    files = {
        "rgb.png": (base, {}),
        "gray.png": (base.convert("L"), {}),
        "gray_alpha.png": (la, {}),
        "rgba.png": (rgba, {}),
        "palette.png": (base.convert("P", palette=Image.ADAPTIVE, colors=64), {}),
        "palette_trns.png": (pal_t, {"transparency": 3}),
        "bilevel.png": (base.convert("1"), {}),
        "baseline.jpg": (base, {"quality": 90}),
        "baseline444.jpg": (base, {"quality": 95, "subsampling": 0}),
        "progressive.jpg": (base, {"quality": 85, "progressive": True}),
        "gray.jpg": (base.convert("L"), {"quality": 90}),
        "cmyk.jpg": (base.convert("CMYK"), {"quality": 90}),
    }
    names = []
    for name, (im, kw) in files.items():
        path = os.path.join(outdir, name)
        im.save(path, **kw)
        names.append(name)
    # 16-bit PNGs written by hand (PIL cannot save 16-bit RGB): RGB16 and gray16.
    rgb16 = (rgb.astype(np.uint16) * 257 + rng.integers(0, 256, rgb.shape).astype(np.uint16))
    write_png16(os.path.join(outdir, "rgb16.png"), rgb16, color_type=2)
    names.append("rgb16.png")
    with open(os.path.join(outdir, "manifest.txt"), "w") as man:
        for name in names:
            path = os.path.join(outdir, name)
            if name == "rgb16.png":
                exp = (rgb16 >> 8).astype(np.uint8)  # PIL reads 16-bit RGB through its high bytes
                with Image.open(path) as im:
                    got = np.asarray(im.convert("RGB"))
                assert (got == exp).all(), "PIL disagrees with the high-byte rule for 16-bit RGB"
            else:
                exp = np.asarray(pil_rgb(path))
            exp.astype(np.uint8).tofile(path + ".rgb")
            man.write(f"{name} {exp.shape[1]} {exp.shape[0]}\n")


def write_png16(path, arr, color_type):
    import zlib
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, data):
        c = struct.pack(">I", len(data)) + t + data
        return c + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def cmd_resize(src, out, sizes):
    img = pil_rgb(src)
    with open(out, "wb") as f:
        for s in sizes:
            w, h = (int(v) for v in s.split("x"))
            f.write(np.asarray(img.resize((w, h), Image.BICUBIC), dtype=np.uint8).tobytes())


if __name__ == "__main__":
    torch.set_num_threads(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "formats":
        cmd_formats(args[0])
    elif cmd == "resize":
        cmd_resize(args[0], args[1], args[2:])
    elif cmd == "model":
        cmd_model(args[0], args[1], args[2:])
    else:
        sys.exit(f"unknown command {cmd}")

"""Training-side SHIRG selection (query-agnostic scores as in docs/shirg.md sections 1, 2 and 4,
WITHOUT neighbour merging): 64 scaffold tokens (8x8 average pooling) + the top-K single cells,
with (x, y, w, h) box-centre coordinates. Used only to put selection in the training loop; the
server's selector (shirg/) is what serves. Without merging, every kept token is one cell, which
is also what the server's selector outputs for every cell whose 2x2 block is not flat.

features [G*G, Dv] (any float dtype, no grad needed) -> dict with
  scaffold [64, Dv], kept [K] cell indices ascending (raster order), coords [64 + K, 4] fp32.
"""
import math

import torch
import torch.nn.functional as F


def _percentile_norm(x):
    v, _ = torch.sort(x)
    n = v.numel()
    lo = v[max(0, math.ceil(0.01 * n) - 1)]
    hi = v[max(0, math.ceil(0.99 * n) - 1)]
    if float(hi - lo) < 1e-3:
        return torch.zeros_like(x)
    return ((x - lo) / (hi - lo)).clamp(0, 1)


def scores(features, g, weights=(0.7, 0.2, 0.1)):
    f = features.detach().float()
    mean = f.mean(0, keepdim=True)
    var = f.var(0, unbiased=False, keepdim=True)
    e = (var + mean * mean).mean()
    z = (f - mean) / torch.sqrt(var + 1e-6 * e + 1e-30)
    dv = f.shape[1]
    sim = z.norm(dim=1) / math.sqrt(dv)
    zg = z.view(g, g, dv)
    acc = torch.zeros(g, g)
    cnt = torch.zeros(g, g)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            r0, r1 = max(0, -dr), g - max(0, dr)  # cells (r, c) whose neighbour (r+dr, c+dc) exists
            c0, c1 = max(0, -dc), g - max(0, dc)
            d = (zg[r0:r1, c0:c1] - zg[r0 + dr:r1 + dr, c0 + dc:c1 + dc]).norm(dim=2) / math.sqrt(dv)
            acc[r0:r1, c0:c1] += d
            cnt[r0:r1, c0:c1] += 1
    dnb = (acc / cnt).reshape(-1)
    idx = torch.arange(g * g)
    cx, cy = ((idx % g).float() + 0.5) / g, ((idx // g).float() + 0.5) / g
    dc_term = torch.sqrt((cx - 0.5) ** 2 + (cy - 0.5) ** 2) / math.sqrt(0.5)
    w_sim, w_nb, w_c = weights
    return w_sim * _percentile_norm(sim) - w_nb * _percentile_norm(dnb) - w_c * dc_term


def select(features, k, g=48):
    s = scores(features, g)
    order = sorted(range(g * g), key=lambda i: (-float(s[i]), i))
    kept = torch.tensor(sorted(order[:k]), dtype=torch.long)
    return kept


def scaffold(features, g=48):
    """[G*G, Dv] -> [64, Dv]: 8x8 adaptive average pooling, raster order over the windows."""
    f = features.view(g, g, -1).permute(2, 0, 1).unsqueeze(0)
    return F.adaptive_avg_pool2d(f, 8)[0].flatten(1).t()


def coords_for(kept, g=48):
    """Box centre and size of the 64 scaffold windows, then of the kept single cells: [64 + K, 4]."""
    sc = []
    for i in range(8):
        r0, r1 = math.floor(i * g / 8), math.ceil((i + 1) * g / 8)
        for j in range(8):
            c0, c1 = math.floor(j * g / 8), math.ceil((j + 1) * g / 8)
            sc.append([(c0 + c1) / 2 / g, (r0 + r1) / 2 / g, (c1 - c0) / g, (r1 - r0) / g])
    r, c = (kept // g).float(), (kept % g).float()
    hk = torch.stack([(c + 0.5) / g, (r + 0.5) / g, torch.full_like(c, 1 / g), torch.full_like(c, 1 / g)], dim=1)
    return torch.cat([torch.tensor(sc, dtype=torch.float32), hk], dim=0)

"""Builds LaViDa's own SigLIP tower, mlp2x_gelu projector and LLaDA model (classes imported by
lavida_import) with random weights made directly on the target device: every module is built
on the meta device (no storage), cast to the compute dtype there, given uninitialised storage on
the target with `to_empty`, and filled in place there. Nothing is ever allocated on the host at
full size (LLaDA-8B is 16 GB in bf16).

Shapes (`Widths`): the real LaViDa-8B widths, or `small()` for a CPU check of the same code.
Weights: N(0, 1/fan_in) for matrices, convolutions and embedding tables; ones for norm weights;
zeros for biases. Deterministic per seed and device; the values only keep activations finite.
"""
import math
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

# LLaDA-8B (LLaDAConfig field names; ../shared/reference/lavida.md). Dropouts 0: inference.
LLADA_8B = {
    "d_model": 4096, "n_heads": 32, "n_kv_heads": 32, "n_layers": 32, "mlp_ratio": 4, "mlp_hidden_size": 12288,
    "activation_type": "silu", "block_type": "llama", "block_group_size": 1, "alibi": False, "alibi_bias_max": 8.0,
    "rope": True, "rope_full_precision": True, "rope_theta": 500000.0, "flash_attention": False,
    "attention_dropout": 0.0, "multi_query_attention": None, "attention_layer_norm": False, "residual_dropout": 0.0,
    "embedding_dropout": 0.0, "input_emb_norm": False, "layer_norm_type": "rms", "layer_norm_with_affine": True,
    "rms_norm_eps": 1e-05, "attention_layer_norm_with_affine": True, "max_sequence_length": 4096,
    "include_qkv_bias": False, "include_bias": False, "bias_for_layer_norm": False, "scale_logits": False,
    "vocab_size": 126464, "embedding_size": 126464, "weight_tying": False, "eos_token_id": 126081,
    "pad_token_id": 126081, "mask_token_id": 126336, "init_fn": "mitchell", "init_std": 0.02,
    "init_cutoff_factor": None, "precision": "amp_bf16",
}
# SigLIP so400m-patch14-384 (SigLipVisionConfig names); LaViDa builds 27 layers and drops the last.
SIGLIP_SO400M = {"hidden_size": 1152, "intermediate_size": 4304, "num_attention_heads": 16, "num_channels": 3,
                 "image_size": 384, "patch_size": 14, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-06,
                 "attention_dropout": 0.0}


class Widths:
    """Model shape. `llada` / `vision`: config dicts; `llada_layers` / `vision_layers`: blocks run
    (the vision tower is built with one more, which LaViDa deletes); `mask_id`: LLaDA's mask token."""

    def __init__(self, llada, vision, llada_layers, vision_layers):
        self.llada = dict(llada, n_layers=llada_layers)
        self.vision = dict(vision)
        self.llada_layers = llada_layers
        self.vision_layers = vision_layers

    @property
    def mask_id(self):
        return self.llada["mask_token_id"]

    @property
    def d_model(self):
        return self.llada["d_model"]

    @property
    def vocab(self):
        return self.llada["embedding_size"]

    @property
    def vision_hidden(self):
        return self.vision["hidden_size"]

    def describe(self):
        lc, vc = self.llada, self.vision
        return {"llada": {"d_model": lc["d_model"], "n_heads": lc["n_heads"], "mlp_hidden_size": lc["mlp_hidden_size"],
                          "vocab": self.vocab, "layers": self.llada_layers, "mask_id": self.mask_id},
                "vision": {"hidden_size": vc["hidden_size"], "heads": vc["num_attention_heads"],
                           "intermediate_size": vc["intermediate_size"], "layers_used": self.vision_layers,
                           "patch_size": vc["patch_size"], "native_image_size": vc["image_size"]},
                "projector": f"mlp2x_gelu {vc['hidden_size']} -> {lc['d_model']} -> {lc['d_model']}"}


def real(llada_layers=32, vision_layers=26):
    return Widths(LLADA_8B, SIGLIP_SO400M, llada_layers, vision_layers)


def small(llada_layers=2, vision_layers=2):
    """Narrow widths for a CPU run of the same code (token counts unchanged)."""
    llada = dict(LLADA_8B, d_model=128, n_heads=4, n_kv_heads=4, mlp_hidden_size=256, vocab_size=4096,
                 embedding_size=4096, eos_token_id=4001, pad_token_id=4001, mask_token_id=4000)
    vision = dict(SIGLIP_SO400M, hidden_size=64, intermediate_size=128, num_attention_heads=4)
    return Widths(llada, vision, llada_layers, vision_layers)


# ---- meta construction ---------------------------------------------------------------------------
_FACTORIES = (torch.empty, torch.zeros, torch.ones, torch.full, torch.arange, torch.rand, torch.randn,
              torch.randint, torch.eye, torch.linspace, torch.tensor)


class _MetaFactories(torch.overrides.TorchFunctionMode):
    """torch < 2.0 (no `with torch.device(...)`): factory calls without a device go to meta."""

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def on_meta():
    """Context in which new parameters and buffers get no storage."""
    scope = torch.device("meta")
    if hasattr(scope, "__enter__"):
        return scope
    return _MetaFactories()


def fill_random_(module, device, seed):
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 1.0 / math.sqrt(p[0].numel()), generator=gen)
            elif name.endswith("bias"):
                p.zero_()
            else:  # LayerNorm / RMSNorm weights
                p.fill_(1.0)


def materialize_(module, device, dtype, seed, buffers=()):
    """meta -> `dtype` storage on `device` (a torch.device with its index), filled; a meta
    `device` keeps the module storage-free. `buffers`: the buffer names the caller refills
    itself (to_empty leaves them uninitialised); any other buffer is an error."""
    unexpected = sorted(n for n, _ in module.named_buffers() if n not in buffers)
    if unexpected:
        raise RuntimeError(f"buffers with no refill rule (LaViDa's source changed?): {unexpected}")
    module.to(dtype=dtype)
    if device.type == "meta":  # shapes only (parameter counts), no storage anywhere
        return module
    module.to_empty(device=device)
    fill_random_(module, device, seed)
    for name, p in module.named_parameters():
        if p.device != device:
            raise RuntimeError(f"{name} is on {p.device}, expected {device}")
    return module


def param_bytes(module):
    return sum(p.numel() * p.element_size() for p in module.parameters())


# ---- the three parts -----------------------------------------------------------------------------
def build_vision(lavida, widths, device, dtype, seed):
    """SigLipVisionModel as LaViDa's SigLipVisionTower.load_model leaves it: last encoder layer
    deleted, pooling head replaced by Identity. The embedding gets HF-style position interpolation
    (install_pos_interpolation) because LaViDa's has none."""
    cfg = lavida.siglip.SigLipVisionConfig(num_hidden_layers=widths.vision_layers + 1, **widths.vision)
    with on_meta():
        tower = lavida.siglip.SigLipVisionModel(cfg)
    del tower.vision_model.encoder.layers[-1:]
    tower.vision_model.head = nn.Identity()
    tower.requires_grad_(False)
    emb = tower.vision_model.embeddings
    materialize_(tower, device, dtype, seed, buffers=("vision_model.embeddings.position_ids",))
    emb.position_ids = torch.arange(emb.num_positions, device=device).expand((1, -1))
    install_pos_interpolation(emb)
    return tower.eval()


def install_pos_interpolation(emb):
    """Inputs other than the native square grid: patch embeddings plus the learned position table
    resized bicubically (align_corners=False, in fp32) from its sqrt(N) x sqrt(N) grid to
    (H/patch) x (W/patch), as Hugging Face's SigLIP does. The native grid runs LaViDa's forward."""
    native_forward = emb.forward
    patch = emb.patch_size

    def forward(pixel_values):
        rows, cols = pixel_values.shape[-2] // patch, pixel_values.shape[-1] // patch
        if rows == cols and rows * cols == emb.num_patches:
            return native_forward(pixel_values)
        x = emb.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        table = emb.position_embedding.weight
        side = int(round(math.sqrt(table.shape[0])))
        grid = table.float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False)
        return x + grid.permute(0, 2, 3, 1).reshape(1, rows * cols, -1).to(x.dtype)

    emb.forward = forward


def tower_features(tower, pixels):
    """What SigLipVisionTower.forward returns for a tensor (without its 729-token assert): the last
    kept layer's hidden states, [1, tokens, hidden]."""
    return tower(pixels, output_hidden_states=True).hidden_states[-1]


def build_projector(lavida, widths, device, dtype, seed):
    cfg = types.SimpleNamespace(mm_projector_type="mlp2x_gelu", mm_hidden_size=widths.vision_hidden,
                                hidden_size=widths.d_model)
    with on_meta():
        proj = lavida.projector.build_vision_projector(cfg)
    return materialize_(proj, device, dtype, seed).eval()


def build_llada(lavida, widths, device, dtype, seed):
    """LLaDAModel (what LaViDa's generate() receives) built the way LLaDAModelLM builds it, with
    LLaDA's own meta switch (init_device "meta") instead of its CPU placement; whole-layer
    activation checkpointing set as LLaDAModelLM sets it."""
    config = lavida.configuration_llada.LLaDAConfig(**widths.llada)
    model_config = lavida.modeling_llada.create_model_config_from_pretrained_config(config)
    model_config.init_device = "meta"
    model = lavida.modeling_llada.LLaDAModel(model_config, init_params=False)
    model.set_activation_checkpointing("whole_layer")
    return materialize_(model, device, dtype, seed).eval()


def check_build(lavida):
    """A tiny build and forward of each part on the CPU: proves the imported files and the
    installed transformers (real or stand-in) work together before the big build."""
    tiny = small(llada_layers=1, vision_layers=1)
    tiny.llada.update(d_model=32, n_heads=2, n_kv_heads=2, mlp_hidden_size=64)
    tiny.vision.update(hidden_size=16, intermediate_size=32, num_attention_heads=2)
    cpu = torch.device("cpu")
    with torch.no_grad():
        tower = build_vision(lavida, tiny, cpu, torch.float32, 1)
        feats = tower_features(tower, torch.zeros(1, 3, 56, 56))
        proj = build_projector(lavida, tiny, cpu, torch.float32, 1)
        model = build_llada(lavida, tiny, cpu, torch.float32, 1)
        out = model(None, input_embeddings=proj(feats), use_cache=True)
    if tuple(out.logits.shape) != (1, 16, tiny.vocab):
        raise RuntimeError(f"tiny check: logits {tuple(out.logits.shape)}, expected {(1, 16, tiny.vocab)}")

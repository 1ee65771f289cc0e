"""Stand-ins for what LaViDa's model files import but the target may lack, installed only when the
real thing is missing (each installer returns a line saying what it did, for the report).

- `deepspeed`: LaViDa wraps every LLaDA block in `deepspeed.checkpointing.checkpoint` (activation
  checkpointing, a training feature). The stand-in calls the block directly, which is what
  checkpointing amounts to at inference.
- `transformers`: LaViDa's files use it for base classes (PretrainedConfig, PreTrainedModel,
  ModelOutput), the activation table and a few names its import lines need. The stand-in gives
  those with the semantics the timed forward passes rely on; the image-preprocessing names exist
  (they are imported) but raise if called: this benchmark feeds tensors, never PIL images.
- torch < 2.0: `F.scaled_dot_product_attention` as softmax(Q K^T * scale + mask) V, the
  `torch.backends.cuda.enable_*_sdp` switches as no-ops.

None of this changes the arithmetic of the timed modules: their forward code is LaViDa's.
"""
import enum
import math
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

STANDIN_TAG = "__shirg_standin__"


def _module(name, package=False, **attrs):
    m = types.ModuleType(name)
    if package:
        m.__path__ = []
    setattr(m, STANDIN_TAG, True)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, m)
    return m


def _not_provided(what):
    def fail(*args, **kwargs):
        raise NotImplementedError(f"{what} is not provided by the transformers stand-in "
                                  "(bench/gpu/lavida_standins.py): this benchmark feeds tensors")
    return fail


# ---- deepspeed -----------------------------------------------------------------------------------
def install_deepspeed():
    def checkpoint(function, *args):
        """No recomputation at inference: the wrapped call itself."""
        return function(*args)

    _module("deepspeed", package=True, __version__="stand-in")
    _module("deepspeed.checkpointing", checkpoint=checkpoint)
    return "deepspeed: stand-in (checkpointing.checkpoint(f, *args) = f(*args))"


# ---- transformers --------------------------------------------------------------------------------
class PretrainedConfig:
    """Keeps every keyword as an attribute, with the output switches LaViDa's forwards read."""

    model_type = ""

    def __init__(self, **kwargs):
        self.return_dict = kwargs.pop("return_dict", True)
        self.output_hidden_states = kwargs.pop("output_hidden_states", False)
        self.output_attentions = kwargs.pop("output_attentions", False)
        self.torchscript = kwargs.pop("torchscript", False)
        for key, value in kwargs.items():
            setattr(self, key, value)

    @property
    def use_return_dict(self):
        return self.return_dict and not self.torchscript


class PreTrainedModel(nn.Module):
    """An nn.Module holding its config; weights are set by the caller, so post_init does nothing."""

    config_class = None
    base_model_prefix = ""
    main_input_name = "input_ids"

    def __init__(self, config, *args, **kwargs):
        super().__init__()
        self.config = config

    def post_init(self):
        pass

    def get_output_embeddings(self):
        return None

    @property
    def device(self):
        return next(self.parameters()).device


class ModelOutput:
    """Base of the @dataclass output records: fields by name, or by position over the fields that
    are not None (the convention LaViDa's `encoder_outputs[0]` relies on)."""

    def to_tuple(self):
        names = getattr(self, "__dataclass_fields__", {})
        return tuple(getattr(self, n) for n in names if getattr(self, n) is not None)

    def __getitem__(self, key):
        if isinstance(key, str):
            return getattr(self, key)
        return self.to_tuple()[key]


class _Registry:
    """AutoConfig / AutoModel / AutoTokenizer: `register` is accepted, loading is not provided."""

    registered = []

    @classmethod
    def register(cls, *args, **kwargs):
        cls.registered.append(args)

    from_pretrained = staticmethod(_not_provided("from_pretrained"))
    from_config = staticmethod(_not_provided("from_config"))


class _Activations(dict):
    """ACT2FN: a fresh module per lookup, as in transformers."""

    def __getitem__(self, key):
        return dict.__getitem__(self, key)()


ACT2FN = _Activations({
    "gelu": lambda: nn.GELU(),
    "gelu_pytorch_tanh": lambda: nn.GELU(approximate="tanh"),
    "gelu_new": lambda: nn.GELU(approximate="tanh"),
    "silu": lambda: nn.SiLU(),
    "swish": lambda: nn.SiLU(),
    "relu": lambda: nn.ReLU(),
})


class ChannelDimension(str, enum.Enum):
    FIRST = "channels_first"
    LAST = "channels_last"


class PILImageResampling(enum.IntEnum):
    """PIL's resampling filter numbers (the default arguments LaViDa's image processor names)."""
    NEAREST = 0
    LANCZOS = 1
    BILINEAR = 2
    BICUBIC = 3
    BOX = 4
    HAMMING = 5


def install_transformers():
    from dataclasses import dataclass
    from typing import Optional, Tuple

    @dataclass
    class BaseModelOutput(ModelOutput):
        last_hidden_state: Optional[torch.Tensor] = None
        hidden_states: Optional[Tuple[torch.Tensor, ...]] = None
        attentions: Optional[Tuple[torch.Tensor, ...]] = None

    @dataclass
    class BaseModelOutputWithPooling(ModelOutput):
        last_hidden_state: Optional[torch.Tensor] = None
        pooler_output: Optional[torch.Tensor] = None
        hidden_states: Optional[Tuple[torch.Tensor, ...]] = None
        attentions: Optional[Tuple[torch.Tensor, ...]] = None

    @dataclass
    class CausalLMOutputWithPast(ModelOutput):
        loss: Optional[torch.Tensor] = None
        logits: Optional[torch.Tensor] = None
        past_key_values: Optional[tuple] = None
        hidden_states: Optional[Tuple[torch.Tensor, ...]] = None
        attentions: Optional[Tuple[torch.Tensor, ...]] = None

    class AutoConfig(_Registry):
        registered = []

    class AutoModel(_Registry):
        registered = []

    class AutoTokenizer(_Registry):
        registered = []

    class Cache:
        """Only named in a type annotation by LaViDa's LLaDA file."""

    class CLIPVisionModel(nn.Module):
        def __init__(self, *args, **kwargs):
            _not_provided("CLIPVisionModel")()

    class BatchFeature(dict):
        pass

    _module("transformers", package=True, __version__="stand-in", PretrainedConfig=PretrainedConfig,
            PreTrainedModel=PreTrainedModel, AutoConfig=AutoConfig, AutoModel=AutoModel,
            AutoTokenizer=AutoTokenizer)
    _module("transformers.configuration_utils", PretrainedConfig=PretrainedConfig)
    _module("transformers.modeling_utils", PreTrainedModel=PreTrainedModel)
    _module("transformers.modeling_outputs", BaseModelOutput=BaseModelOutput,
            BaseModelOutputWithPooling=BaseModelOutputWithPooling, CausalLMOutputWithPast=CausalLMOutputWithPast)
    _module("transformers.utils", package=True, ModelOutput=ModelOutput)
    _module("transformers.activations", ACT2FN=ACT2FN)
    _module("transformers.cache_utils", Cache=Cache)
    _module("transformers.models", package=True)
    _module("transformers.models.auto", AutoConfig=AutoConfig, AutoModel=AutoModel, AutoTokenizer=AutoTokenizer)
    _module("transformers.models.clip", package=True)
    _module("transformers.models.clip.modeling_clip", CLIPVisionModel=CLIPVisionModel)
    _module("transformers.image_processing_utils", BatchFeature=BatchFeature,
            get_size_dict=_not_provided("get_size_dict"))
    _module("transformers.image_transforms", **{n: _not_provided(n) for n in (
        "convert_to_rgb", "normalize", "rescale", "resize", "to_channel_dimension_format")})
    _module("transformers.image_utils", ChannelDimension=ChannelDimension, PILImageResampling=PILImageResampling,
            to_numpy_array=_not_provided("to_numpy_array"))
    return "transformers: stand-in (base classes, output records, ACT2FN; no hub, no image preprocessing)"


def remove_transformers():
    """Drops every transformers module (real or stand-in) so another can be imported."""
    for name in [n for n in sys.modules if n == "transformers" or n.startswith("transformers.")]:
        del sys.modules[name]


# ---- torch < 2.0 ---------------------------------------------------------------------------------
def sdpa_math(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(Q K^T * scale + mask) V over the last two dims; scale defaults to 1/sqrt(head_dim);
    a bool mask keeps True, a float mask is added; is_causal masks k > q (top-left aligned)."""
    q_len, k_len = query.size(-2), key.size(-2)
    scores = torch.matmul(query, key.transpose(-2, -1)) * (1.0 / math.sqrt(query.size(-1)) if scale is None else scale)
    if is_causal:
        keep = torch.ones(q_len, k_len, dtype=torch.bool, device=query.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    probs = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        probs = F.dropout(probs, dropout_p)
    return torch.matmul(probs, value)


def install_torch_polyfills():
    done = []
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = sdpa_math
        done.append("torch.nn.functional.scaled_dot_product_attention: stand-in (math: softmax(QK^T/sqrt(d))V)")
    import torch.backends.cuda as backends_cuda
    for name in ("enable_flash_sdp", "enable_mem_efficient_sdp", "enable_math_sdp"):
        if not hasattr(backends_cuda, name):
            setattr(backends_cuda, name, lambda enabled: None)
            done.append(f"torch.backends.cuda.{name}: stand-in (no-op)")
    return done

"""Imports LaViDa's own model files from a folder made by bench/gpu/prepare_lavida.sh, without
running LaViDa's package __init__ files (they import every model family it supports).

Contract: `load(src, check)` returns a `Lavida` record of the imported modules plus `notes`, one
line per stand-in installed or real package used (bench/gpu/lavida_standins.py). The real
`transformers` is used when it is installed and `check(lavida)` (a tiny CPU build and forward)
passes with it; otherwise LaViDa's files are imported again over the stand-in and the reason is
noted. `deepspeed` and torch < 2.0's attention API get stand-ins only where they are missing.
"""
import importlib
import importlib.util
import os
import sys
import types

import lavida_standins as standins

# module attribute -> file under the extracted source root (the files prepare_lavida.sh extracts,
# minus pooler_projector.py, which the projector builder imports by itself)
FILES = {
    "configuration_llada": "llava/model/language_model/llada/configuration_llada.py",
    "modeling_llada": "llava/model/language_model/llada/modeling_llada.py",
    "generate": "llava/model/language_model/llada/generate.py",
    "siglip": "llava/model/multimodal_encoder/siglip_encoder.py",
    "projector": "llava/model/multimodal_projector/builder.py",
}
PACKAGES = ("llava", "llava.model", "llava.model.language_model", "llava.model.language_model.llada",
            "llava.model.multimodal_encoder", "llava.model.multimodal_projector")


class Lavida:
    def __init__(self, src):
        self.src = src
        self.notes = []
        self.commit = read_commit(src)


def read_commit(src):
    path = os.path.join(src, ".lavida_source")
    if not os.path.exists(path):
        return "unknown"
    with open(path) as f:
        for line in f:
            if line.startswith("commit "):
                return line.split()[1]
    return "unknown"


def missing_files(src):
    return [rel for rel in list(FILES.values()) + ["llava/model/multimodal_projector/pooler_projector.py"]
            if not os.path.isfile(os.path.join(src, rel))]


def _install_package_shells(src):
    """Empty packages whose __path__ points into the extracted tree, so LaViDa's modules import by
    their own names; `llava.utils` (imported for rank0_print only) is replaced by a one-liner."""
    for name in [n for n in sys.modules if n == "llava" or n.startswith("llava.")]:
        del sys.modules[name]
    for pkg in PACKAGES:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(src, *pkg.split("."))]
        m.__package__ = pkg
        sys.modules[pkg] = m
    utils = types.ModuleType("llava.utils")
    utils.rank0_print = lambda *args, **kwargs: print(*args, **kwargs)
    sys.modules["llava.utils"] = utils


def _import_files(lavida):
    _install_package_shells(lavida.src)
    for attr, rel in FILES.items():
        name = rel[:-len(".py")].replace("/", ".")
        setattr(lavida, attr, importlib.import_module(name))


def _tolerate_registration(transformers, notes):
    """LaViDa registers "llada" with AutoConfig/AutoModel at import; a transformers that already
    knows that name refuses. Registration plays no part here, so a refusal is noted and ignored."""
    for cls in {transformers.AutoConfig, transformers.AutoModel}:
        original = cls.register

        def register(*args, _original=original, _cls=cls.__name__, **kwargs):
            try:
                return _original(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 (any refusal: the registry is not used)
                notes.append(f"transformers: {_cls}.register refused ({type(e).__name__}: {e}); ignored")
        cls.register = staticmethod(register)


def _present(name):
    """Whether a real `name` can be imported (a stand-in already installed does not count)."""
    if name in sys.modules:
        return not getattr(sys.modules[name], standins.STANDIN_TAG, False)
    return importlib.util.find_spec(name) is not None


def load(src, check):
    src = os.path.abspath(src)
    missing = missing_files(src)
    if missing:
        raise SystemExit(f"--lavida-src {src}: missing {', '.join(missing)} "
                         "(make the folder with bench/gpu/prepare_lavida.sh)")
    lavida = Lavida(src)
    lavida.notes += standins.install_torch_polyfills()
    if not _present("deepspeed"):
        lavida.notes.append(standins.install_deepspeed())
    else:
        import deepspeed
        lavida.notes.append(f"deepspeed: real {getattr(deepspeed, '__version__', '?')}")
    for need in ("numpy", "PIL"):
        if not _present(need):
            raise SystemExit(f"LaViDa's files import {need}, which this python lacks")

    if _present("transformers"):
        import transformers
        version = getattr(transformers, "__version__", "?")
        try:
            _tolerate_registration(transformers, lavida.notes)
            _import_files(lavida)
            check(lavida)
            lavida.notes.append(f"transformers: real {version}")
            return lavida
        except Exception as e:  # noqa: BLE001 (any incompatibility: fall back, say why)
            lavida.notes.append(f"transformers: real {version} failed with LaViDa's files "
                                f"({type(e).__name__}: {str(e)[:300]}); using the stand-in instead")
            standins.remove_transformers()
    lavida.notes.append(standins.install_transformers())
    _import_files(lavida)
    check(lavida)
    return lavida

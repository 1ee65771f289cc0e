"""A small Python client of shirg-server (the shirg.v1 gRPC API).

Uses Debian's python3-grpcio. The protobuf/gRPC stubs are generated, never committed: the build
writes them to <build>/clients/python/gen (target shirg_python_stubs); otherwise this module makes
them on first use with python3-grpc-tools (`python3 -m grpc_tools.protoc`) in $SHIRG_PY_STUBS or
~/.cache/shirg/pystubs.

    from shirg_client import ShirgClient
    c = ShirgClient("localhost:50051")
    r = c.generate("chart.png", "What is the Q4 value?", gen_length=16, steps=8)
    print(r.answer, r.timings.total_ms)
"""
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys

import grpc

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_ROOT = os.environ.get("SHIRG_PROTO_ROOT", os.path.join(_HERE, "..", "..", "proto"))
_HEALTH_ROOT = os.environ.get("SHIRG_HEALTH_PROTO_ROOT", "/usr/share/grpc-proto")

REMASKING = {"low-confidence": 1, "random": 2, "entropy": 3, "margin": 4}
SCHEDULE = {"uniform": 1, "shift": 2}
MODES = {"baseline-384": 1, "lavida-hd": 2, "full-672": 3, "shirg": 4, "no-scaffold": 5,
         "no-coords": 6, "similarity-only": 7, "no-merge": 8, "random-k": 9, "lavida-384": 10}
GENERATION_FIELDS = ("gen_length", "block_length", "steps", "step_ratio", "steps_per_block",
                     "temperature", "shift", "seed")
SELECTION_FIELDS = ("k", "adaptive_k", "k_min", "k_max", "query_aware")


def _protoc_commands(root, proto, out_dir):
    """Candidate generator commands, best first. Debian 12's python3-grpc-tools (1.14) bundles
    protoc 3.5.1, which predates proto3 `optional` (used by shirg.v1), so the system protoc
    (protobuf-compiler 3.21, matching python3-protobuf 4.21) with grpc_python_plugin
    (protobuf-compiler-grpc) comes first; a newer pip grpcio-tools works as the fallback."""
    plugin = shutil.which("grpc_python_plugin")
    protoc = shutil.which("protoc")
    cmds = []
    if protoc and plugin:
        cmds.append([protoc, f"--plugin=protoc-gen-grpc_python={plugin}", "-I", root,
                     "--python_out", out_dir, "--grpc_python_out", out_dir, proto])
    cmds.append([sys.executable, "-m", "grpc_tools.protoc", "-I", root, "--python_out", out_dir,
                 "--grpc_python_out", out_dir, proto])
    return cmds


def generate_stubs(out_dir):
    """Writes shirg/v1/inference_pb2*.py and grpc/health/v1/health_pb2*.py into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(_PROTO_ROOT, "shirg/v1/inference.proto"), (_HEALTH_ROOT, "grpc/health/v1/health.proto")]
    for root, proto in jobs:
        errors = []
        for cmd in _protoc_commands(root, proto, out_dir):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 0:
                break
            errors.append(f"{' '.join(cmd)}: {r.stderr.strip()[-300:]}")
        else:
            raise RuntimeError("cannot generate the Python stubs:\n" + "\n".join(errors))
    return out_dir


def _stub_dir():
    """The directory holding the generated stubs, generating them if needed."""
    env = os.environ.get("SHIRG_PY_STUBS")
    for d in ([env] if env else []) + sys.path:
        if d and os.path.exists(os.path.join(d, "shirg", "v1", "inference_pb2.py")):
            return d
    out = env or os.path.expanduser("~/.cache/shirg/pystubs")
    return generate_stubs(out)


def _load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _import_stubs():
    d = _stub_dir()
    if d not in sys.path:
        sys.path.insert(0, d)
    pb2 = importlib.import_module("shirg.v1.inference_pb2")
    pb2_grpc = importlib.import_module("shirg.v1.inference_pb2_grpc")
    # The package name "grpc" is taken by grpcio itself: load the health messages by path (the
    # call goes through a generic unary method below, so health_pb2_grpc is not needed).
    health = _load_file("shirg_health_pb2", os.path.join(d, "grpc", "health", "v1", "health_pb2.py"))
    return pb2, pb2_grpc, health


pb2, pb2_grpc, health_pb2 = _import_stubs()


def _read_image(image):
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    with open(image, "rb") as f:
        return f.read()


def _enum(table, key, value):
    if value not in table:
        raise ValueError(f"unknown {key} {value!r} (one of: {', '.join(table)})")
    return table[value]


def _options(options):
    """Splits keyword options into GenerationOptions and SelectionOptions (unknown: TypeError)."""
    gen, sel = pb2.GenerationOptions(), pb2.SelectionOptions()
    for key, value in options.items():
        if value is None:
            continue
        if key in GENERATION_FIELDS:
            setattr(gen, key, value)
        elif key == "remasking":
            gen.remasking = _enum(REMASKING, key, value)
        elif key == "schedule":
            gen.schedule = _enum(SCHEDULE, key, value)
        elif key == "mode":
            sel.mode = _enum(MODES, key, value)
        elif key in SELECTION_FIELDS:
            setattr(sel, key, value)
        else:
            raise TypeError(f"unknown option {key!r}")
    return gen, sel


class ShirgClient:
    """One channel to a shirg-server. Errors raise grpc.RpcError (see .code(), .details())."""

    def __init__(self, addr="localhost:50051", token=None, tls=False, ca_cert=None, timeout=300.0):
        if tls or ca_cert:
            root = open(ca_cert, "rb").read() if ca_cert else None
            self._channel = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root))
        else:
            self._channel = grpc.insecure_channel(addr)
        self._stub = pb2_grpc.InferenceStub(self._channel)
        self._health_check = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString)
        self._metadata = [("authorization", f"Bearer {token}")] if token else None
        self._timeout = timeout

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _request(self, image, question, request_id, options):
        gen, sel = _options(options)
        return pb2.GenerateRequest(image=_read_image(image), question=question,
                                   generation=gen, selection=sel, request_id=request_id or "")

    def generate(self, image, question, request_id=None, **options):
        """image: a path or the encoded bytes. Returns a shirg.v1.GenerateResponse."""
        return self._stub.Generate(self._request(image, question, request_id, options),
                                   timeout=self._timeout, metadata=self._metadata)

    def stream(self, image, question, request_id=None, **options):
        """Yields shirg.v1.GenerateEvent: queued, prefix_ready, one step per denoising step,
        then result (check event.WhichOneof("event"))."""
        return self._stub.GenerateStream(self._request(image, question, request_id, options),
                                         timeout=self._timeout, metadata=self._metadata)

    def model_info(self):
        return self._stub.ModelInfo(pb2.ModelInfoRequest(), timeout=self._timeout,
                                    metadata=self._metadata)

    def selection_map(self, image, question="", **selection):
        _, sel = _options(selection)
        return self._stub.SelectionMap(
            pb2.SelectionMapRequest(image=_read_image(image), question=question, selection=sel),
            timeout=self._timeout, metadata=self._metadata)

    def health(self, service=""):
        """'SERVING', 'NOT_SERVING', ... for the whole server ("") or one service."""
        resp = self._health_check(health_pb2.HealthCheckRequest(service=service),
                                  timeout=self._timeout, metadata=self._metadata)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)

#!/usr/bin/python3
"""Sends one image and question to shirg-server and prints the answer.

    /usr/bin/python3 clients/python/example.py --image clients/samples/receipt.jpg \
        --question "What is the total amount on the receipt?" [--stream] [--addr HOST:PORT]

Exit status: 0 on success, 10 + the gRPC status code on an RPC error (as shirg-client), printed
as "CODE: message" on stderr.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402

from shirg_client import ShirgClient  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default="localhost:50051")
    p.add_argument("--image", required=True)
    p.add_argument("--question", required=True)
    p.add_argument("--stream", action="store_true", help="print each denoising step")
    p.add_argument("--gen-length", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--mode", help="shirg | baseline-384 | lavida-384 | lavida-hd | full-672 | ...")
    p.add_argument("--token", default=os.environ.get("SHIRG_TOKEN"))
    p.add_argument("--timeout", type=float, default=300.0)
    a = p.parse_args()
    options = {"gen_length": a.gen_length, "steps": a.steps, "mode": a.mode}
    try:
        with ShirgClient(a.addr, token=a.token, timeout=a.timeout) as client:
            if not a.stream:
                r = client.generate(a.image, a.question, **options)
            else:
                r = None
                for ev in client.stream(a.image, a.question, **options):
                    kind = ev.WhichOneof("event")
                    if kind == "step":
                        print(f"step {ev.step.step}/{ev.step.total_steps}: "
                              f"{ev.step.partial_answer}", file=sys.stderr)
                    elif kind == "result":
                        r = ev.result
            print(r.answer)
            print(f"[{r.answer_tokens} answer tokens, {r.steps} steps, "
                  f"{r.timings.total_ms:.1f} ms]", file=sys.stderr)
    except grpc.RpcError as e:
        print(f"{e.code().name}: {e.details()}", file=sys.stderr)
        return 10 + e.code().value[0]
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Exercises clients/python/shirg_client.py against a running server (stand-in or real).

usage: python_client_check.py ADDR SAMPLES_DIR [--expect-echo]
Prints one line per check and exits non-zero on the first failure. --expect-echo adds the
checks that only the stand-in server's known answers allow.
"""
import os
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "clients", "python"))
import grpc  # noqa: E402

from shirg_client import ShirgClient  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def main():
    addr, samples = sys.argv[1], sys.argv[2]
    echo = "--expect-echo" in sys.argv
    image = os.path.join(samples, "receipt.jpg")
    with ShirgClient(addr, timeout=300) as c:
        check(c.health() == "SERVING", "health is SERVING")
        info = c.model_info()
        check(info.model_type == "llava_llada", f"model_info model_type {info.model_type!r}")
        r = c.generate(image, "What is the total amount on the receipt?", gen_length=8, steps=4,
                       seed=3)
        check(r.answer_tokens >= 0 and r.timings.total_ms > 0, "generate returns timings")
        check(r.request_id != "", "generate returns a request id")
        if echo:
            check(r.answer.startswith("echo: What is the total"), "stand-in echoes the question")
        # Same request and seed: same answer (the server is deterministic for a fixed seed).
        r2 = c.generate(open(image, "rb").read(), "What is the total amount on the receipt?",
                        gen_length=8, steps=4, seed=3)
        check(r2.answer == r.answer, "image as bytes gives the same answer")
        kinds = [ev.WhichOneof("event") for ev in c.stream(image, "Shop name?", gen_length=8,
                                                              steps=4)]
        check(kinds[-1] == "result" and "step" in kinds, f"stream events {kinds[:3]}...")
        m = c.selection_map(image, mode="shirg")
        check(len(m.overlay_png) > 0, "selection map has an overlay PNG")
        try:
            c.generate(image, "")
            check(False, "empty question must fail")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                  f"empty question -> {e.code().name}: {e.details()}")
        try:
            c.generate(image, "q", mode="no-such-mode")
            check(False, "unknown mode must fail")
        except ValueError as e:
            check("no-such-mode" in str(e), "unknown mode raises ValueError before sending")


if __name__ == "__main__":
    main()

"""The table lavida_gpu.py prints from its result record (the same record it writes as JSON):
one row per stage and per request part, median and min-max in ms, peak memory in GiB."""
GIB = 2 ** 30


def _mm(s):
    return f"{s['median_ms']:.2f}", f"{s['min_ms']:.2f}-{s['max_ms']:.2f}"


def table(res):
    dev, shape = res["device"], res["shape"]
    peak_head = "peak GiB (device)" if dev["type"] == "cuda" else "peak RSS GiB"
    w = res["build"]["weights_bytes"]
    lines = [
        f"LaViDa's own code (commit {res['versions']['lavida_commit'][:7]}) on {dev['name']} ({dev['type']}, "
        f"{res['dtype']}), random weights{' [--small widths]' if res['small'] else ''}",
        f"LLaDA {shape['llada']['layers']} layers, d_model {shape['llada']['d_model']}, "
        f"vocab {shape['llada']['vocab']}; "
        f"SigLIP {shape['vision']['layers_used']} layers, {shape['vision']['hidden_size']} wide; {shape['projector']}",
        f"generate(): {res['steps']} steps, gen length {res['gen_length']}, block {res['block_length']}, prefix cache "
        f"on, schedule {res['generate_kwargs']['schedule']} {res['generate_kwargs']['schedule_kwargs']}; "
        f"torch {res['versions']['torch']} (CUDA {res['versions']['cuda']})",
        "imports: " + "; ".join(res["standins"]),
        f"build {res['build']['seconds']:.1f} s; weights: vision {w['vision'] / GIB:.2f} GiB, projector "
        f"{w['projector'] / GIB:.2f} GiB, LLaDA {w['llada'] / GIB:.2f} GiB; {res['reps']} runs after "
        f"{res['warmup']} warm-up; peak = {res['peak_kind']}",
        "",
        f"| quantity | median ms | min-max ms | {peak_head} |",
        "|---|---|---|---|",
    ]
    st = res["stages"]

    def row(label, s, peak=None):
        med, rng = _mm(s)
        lines.append(f"| {label} | {med} | {rng} | {'' if peak is None else f'{peak / GIB:.2f}'} |")

    for key, s in st.items():
        kind, _, n = key.partition("_")
        n_fmt = f"{int(n):,}"
        label = {"vision": f"SigLIP {s.get('image')} ({s['tokens']:,} tokens"
                           + (", LaViDa's embedding)" if s["tokens"] == 729 else ", HF-style bicubic position "
                              "interpolation added: LaViDa has none)"),
                 "projector": f"projector, {n_fmt} tokens",
                 "prefill": f"prefill P {n_fmt} (use_cache=True)",
                 "step": f"cached step P {n_fmt} ({res['gen_length']} tokens, model call only)"}[kind]
        row(label, s, s["peak_bytes"])
    for name, title in (("shirg", "SHIRG-shaped"), ("full672", "full-672-shaped")):
        r = res["requests"][name]
        row(f"**{title} request** P {r['prefix_tokens']:,} ({r['visual_tokens']:,} visual), total", r["total"],
            r["peak_bytes"])
        row("&nbsp; vision (SigLIP 672)", r["vision"])
        row(f"&nbsp; projector {r['visual_tokens']:,} + text embedding", r["projector"])
        row("&nbsp; prefill (generate's first model call)", r["prefill"])
        row(f"&nbsp; {r['denoising_steps']} steps (rest of generate)", r["steps"])
        row("&nbsp; per step", r["step"])
    for name, r in res["requests"].items():
        if r["model_calls"] != r["expected_model_calls"]:
            lines.append(f"note: request {name} made {r['model_calls']} model calls, expected "
                         f"{r['expected_model_calls']}")
    return "\n".join(lines)

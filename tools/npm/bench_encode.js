#!/usr/bin/env node
// Encode throughput of Hugging Face tokenizers (@anush008/tokenizers) on a JSONL corpus.
// usage: RAYON_NUM_THREADS=1 node bench_encode.js TOKENIZER_JSON CORPUS_JSONL [REPEATS]
// Prints one JSON line: {"bytes": N, "batch_mb_s": median over repeats of encodeBatch (one
// Rust thread when RAYON_NUM_THREADS=1), "single_mb_s": median of per-line await encode()}.
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const [tokPath, corpusPath, repeatsArg] = process.argv.slice(2);
  const repeats = Number(repeatsArg || 3);
  const tok = Tokenizer.fromFile(tokPath);
  const texts = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);
  await tok.encodeBatch(texts.slice(0, 100), { addSpecialTokens: false });  // warm-up
  const batch = [], single = [];
  for (let r = 0; r < repeats; ++r) {
    let t0 = process.hrtime.bigint();
    await tok.encodeBatch(texts, { addSpecialTokens: false });
    batch.push(bytes / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6);
    t0 = process.hrtime.bigint();
    for (const t of texts) await tok.encode(t, null, { addSpecialTokens: false });
    single.push(bytes / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6);
  }
  console.log(JSON.stringify({ bytes, batch_mb_s: median(batch), single_mb_s: median(single) }));
}

main().catch((e) => {
  console.error(`bench_encode.js failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});

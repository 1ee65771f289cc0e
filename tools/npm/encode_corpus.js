#!/usr/bin/env node
// Reference encodings from Hugging Face tokenizers (@anush008/tokenizers, the Rust library).
// usage: node encode_corpus.js TOKENIZER_JSON CORPUS_JSONL OUT_JSONL
//   CORPUS_JSONL: one JSON string per line. OUT_JSONL: per input line
//   {"ids": [...], "dec": decode(ids, false), "dec_skip": decode(ids, true)} (add_special_tokens false).
'use strict';
const fs = require('fs');
const { Tokenizer } = require('@anush008/tokenizers');

async function main() {
  const [tokPath, corpusPath, outPath] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node encode_corpus.js TOKENIZER_JSON CORPUS_JSONL OUT_JSONL');
    process.exit(2);
  }
  const tok = Tokenizer.fromFile(tokPath);
  const lines = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length > 0);
  const texts = lines.map((l) => JSON.parse(l));
  const out = [];
  const batch = 512;
  for (let i = 0; i < texts.length; i += batch) {
    const encs = await tok.encodeBatch(texts.slice(i, i + batch), { addSpecialTokens: false });
    const ids = encs.map((e) => Array.from(e.getIds()));
    const dec = await tok.decodeBatch(ids, false);
    const decSkip = await tok.decodeBatch(ids, true);
    for (let k = 0; k < ids.length; ++k) {
      out.push(JSON.stringify({ ids: ids[k], dec: dec[k], dec_skip: decSkip[k] }));
    }
  }
  fs.writeFileSync(outPath, out.join('\n') + '\n');
  console.log(`encoded ${texts.length} lines with ${tokPath}`);
}

main().catch((e) => {
  console.error(`encode_corpus.js failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});

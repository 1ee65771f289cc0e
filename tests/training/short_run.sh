#!/usr/bin/env bash
# A short run of training/train.py (2 base steps per stage, 2 projector steps on 2 images, 4 align
# steps (each layout once), 1 SHIRG-LoRA step, tiny batches) into OUT, then check_server_logits.py
# on what it wrote: the training command works end to end and its checkpoint + adapter give the
# engine's numbers.
#   short_run.sh PYTHON BUILD_DIR OUT
set -euo pipefail
python="$1" build="$2" out="$3"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -rf "$out"
"$python" "$here/../../training/train.py" --out "$out" --build "$build" --threads 1 \
  --steps-lm 2 --steps-vision 2 --steps-projector 2 --projector-images 2 --steps-align 4 --batch-align 2 \
  --steps-lora 1 --batch 2 \
  --eval-count 0 --hires-every 2 --precision fp32
test -f "$out/model.safetensors" && test -f "$out/shirg-lora/adapter_model.safetensors"
"$python" "$here/check_server_logits.py" --offline "$build/tools/offline/shirg-offline" \
  --model-dir "$out" --adapter-dir "$out/shirg-lora"

#!/usr/bin/env bash
# Extracts from a fetched LaViDa git directory the source files bench/gpu/lavida_gpu.py imports
# (LaViDa's SigLIP tower, projector builder, and LLaDA configuration, model and generate()), plus
# LaViDa's LICENSE, into OUTDIR, for a run on another machine. Nothing of LaViDa is committed to
# this repository: OUTDIR must be an ignored folder (e.g. out/gpu-check/lavida).
#   bench/gpu/prepare_lavida.sh OUTDIR
# Env: LAVIDA_GIT (default /work/.mirror/jacklishufan+LaViDa/repo), LAVIDA_REV (default HEAD;
# the baseline numbers of ../shared/bench/lavida-baseline were measured at 284ef5c).
# OUTDIR is replaced only if it is empty or was made by this script (it holds .lavida_source).
set -euo pipefail
usage() { echo "usage: $0 OUTDIR   (env LAVIDA_GIT: a fetched jacklishufan/LaViDa git directory)" >&2; exit 2; }
[ $# -eq 1 ] && [ -n "$1" ] || usage
out="$1"
git_dir="${LAVIDA_GIT:-/work/.mirror/jacklishufan+LaViDa/repo}"
rev="${LAVIDA_REV:-HEAD}"
files=(
  llava/model/language_model/llada/configuration_llada.py
  llava/model/language_model/llada/modeling_llada.py
  llava/model/language_model/llada/generate.py
  llava/model/multimodal_encoder/siglip_encoder.py
  llava/model/multimodal_projector/builder.py
  llava/model/multimodal_projector/pooler_projector.py
  LICENSE
)
commit="$(git --git-dir="$git_dir" rev-parse --verify --quiet "$rev^{commit}" 2>/dev/null)" || {
  echo "$0: no LaViDa commit '$rev' in LAVIDA_GIT=$git_dir (fetch jacklishufan/LaViDa as a git directory)" >&2
  exit 1
}
for f in "${files[@]}"; do
  git --git-dir="$git_dir" cat-file -e "$commit:$f" 2>/dev/null || {
    echo "$0: $f is missing from LaViDa commit $commit in $git_dir" >&2
    exit 1
  }
done
if [ -e "$out" ] && [ ! -f "$out/.lavida_source" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "$0: $out exists, is not empty and was not made by this script: refusing to replace it" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"
for f in "${files[@]}"; do
  mkdir -p "$out/$(dirname "$f")"
  git --git-dir="$git_dir" cat-file blob "$commit:$f" >"$out/$f"
done
{
  echo "commit $commit"
  echo "from $git_dir"
  printf 'file %s\n' "${files[@]}"
} >"$out/.lavida_source"
bytes="$(du -sb "$out" | cut -f1)"
echo "LaViDa ${commit:0:7}: ${#files[@]} files, $bytes bytes -> $out"
case "$commit" in 284ef5c*) ;; *) echo "note: not commit 284ef5c, the one the CPU baseline measured" >&2 ;; esac

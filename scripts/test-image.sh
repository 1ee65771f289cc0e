#!/usr/bin/env bash
# Runs the image built by scripts/build-image.sh and checks it for real, as the image declares
# itself (no Docker engine needed): buildah containers with chroot isolation on the host network.
#   - the server runs the image's ENTRYPOINT + CMD (its default model) with only --host,
#     --port and --metrics-port changed to 127.0.0.1 and two free ports;
#   - it must become SERVING (grpc.health.v1, asked with the image's own shirg-client, and the
#     image's HEALTHCHECK command pointed at that port);
#   - the default (trained demo) model answers at least 3 of the bundled demo questions right;
#   - /metrics serves shirg_ series and counts that request as OK;
#   - the server process runs as the image's USER (non-root);
#   - SIGTERM makes it drain and exit with status 0.
# The CUDA image (docker/Dockerfile.cuda, label org.shirg.cudnn), on a machine without a GPU:
#   - the server runs with `--device auto` added, so it must serve on the CPU, and all the checks
#     above apply;
#   - `--device cuda` must exit non-zero at start with one clear line;
#   - built offline with the cuDNN stand-in, the image has no libcudnn.so.9: a STUB made by
#     tests/deploy/cudnn_stub.sh is mounted into the test's containers (this run only, never the
#     image) so that LibTorch's CUDA library loads.
# Prints the image size and the time to SERVING. Run as root.
# Usage: scripts/test-image.sh [IMAGE]     (default localhost/shirg-server:latest)
set -euo pipefail
image="${1:-localhost/shirg-server:latest}"
log() { echo "[test-image] $*"; }
fail() { echo "[test-image] FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = "0" ] || fail "run as root (buildah with chroot isolation needs it)"
podman image exists "$image" || fail "no image $image; run scripts/build-image.sh first"

work="$(mktemp -d /tmp/shirg-test-image.XXXXXX)"
srv="" cli="" runpid="" srvpid=""
cleanup() {
  if [ -n "$srvpid" ] && kill -0 "$srvpid" 2>/dev/null; then kill -KILL "$srvpid" 2>/dev/null || true; fi
  if [ -n "$runpid" ]; then wait "$runpid" 2>/dev/null || true; fi
  for c in $srv $cli; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- what the image declares ------------------------------------------------------------------
podman image inspect --format json "$image" >"$work/inspect.json"
read_config() {  # the image config as shell-quoted values; ports are chosen here
  /usr/bin/python3 - "$work/inspect.json" <<'PY'
import json, shlex, socket, sys
img = json.load(open(sys.argv[1]))[0]
cfg = img["Config"]
def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
port, mport = free_port(), free_port()
while mport == port:
    mport = free_port()
cmd = list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])
declared = {}
for flag, value in (("--host", "127.0.0.1"), ("--port", str(port)), ("--metrics-port", str(mport))):
    if flag in cmd:
        i = cmd.index(flag); declared[flag] = cmd[i + 1]; cmd[i + 1] = value
    else:
        cmd += [flag, value]
hc = (img.get("Healthcheck") or cfg.get("Healthcheck") or {}).get("Test") or []
print("server_cmd=(%s)" % " ".join(shlex.quote(a) for a in cmd))
print("healthcheck=(%s)" % " ".join(shlex.quote(a) for a in hc))
print("declared_port=%s" % shlex.quote(declared.get("--port", "")))
print("user=%s" % shlex.quote(cfg.get("User", "")))
print("port=%d mport=%d" % (port, mport))
print("size=%d" % img["Size"])
print("cudnn=%s" % shlex.quote((cfg.get("Labels") or {}).get("org.shirg.cudnn", "")))
PY
}
eval "$(read_config)"
log "image $image: $(( size / 1000000 )) MB, user '$user'"
[ -n "$user" ] || fail "the image declares no USER (it would run as root)"
uid="${user%%:*}"
[ "$uid" != "0" ] && [ "$uid" != "root" ] || fail "the image's USER is root"
[ "${#healthcheck[@]}" -gt 1 ] && [ "${healthcheck[0]}" = "CMD" ] || fail "no HEALTHCHECK CMD in the image"

run_opts=()
if [ -n "$cudnn" ]; then
  log "CUDA image (cuDNN: $cudnn); the server runs with --device auto on this machine (no GPU)"
  server_cmd+=(--device auto)
  if [ "$cudnn" = standin ]; then
    bash "$(dirname "${BASH_SOURCE[0]}")/../tests/deploy/cudnn_stub.sh" "$image" "$work/cudnn-stub"
    run_opts=(--volume "$work/cudnn-stub:/opt/shirg-test-cudnn-stub:ro"
              --env LD_LIBRARY_PATH=/opt/shirg-test-cudnn-stub)
    log "STUB libcudnn.so.9 mounted at /opt/shirg-test-cudnn-stub for this test run only (the image has none)"
  fi
fi
srv="$(buildah from --pull-never "$image")"
cli="$(buildah from --pull-never "$image")"
in_image() { buildah run --isolation chroot "${run_opts[@]}" "$cli" -- "$@"; }

# ---- start the server ------------------------------------------------------------------------
log "server: ${server_cmd[*]}"
t0=$(date +%s.%N)
buildah run --isolation chroot "${run_opts[@]}" "$srv" -- "${server_cmd[@]}" >"$work/server.log" 2>&1 &
runpid=$!
# The server is the process running the entrypoint below buildah's process tree.
entry="$(basename "${server_cmd[0]}")"
find_server() {
  local todo=("$runpid") p c
  while [ "${#todo[@]}" -gt 0 ]; do
    p="${todo[0]}"; todo=("${todo[@]:1}")
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$entry" ]; then echo "$p"; return 0; fi
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do todo+=("$c"); done
  done
  return 1
}

# ---- SERVING, via the image's own client -------------------------------------------------------
serving=0
for _ in $(seq 1 300); do
  [ -n "$srvpid" ] || srvpid="$(find_server || true)"
  if in_image shirg-client --addr "127.0.0.1:$port" --health --timeout 2 >"$work/health.out" 2>&1; then
    serving=1; break
  fi
  kill -0 "$runpid" 2>/dev/null || { cat "$work/server.log" >&2; fail "the server exited before SERVING"; }
  sleep 1
done
t1=$(date +%s.%N)
[ "$serving" = 1 ] || { tail -n 20 "$work/server.log" >&2; fail "not SERVING after 300 tries"; }
to_serving="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
log "health: $(cat "$work/health.out") after $to_serving s"
[ -n "$srvpid" ] || srvpid="$(find_server)" || fail "cannot find the $entry process"

# The image's HEALTHCHECK command, pointed at this port.
hc=("${healthcheck[@]:1}")
hc=("${hc[@]/127.0.0.1:$declared_port/127.0.0.1:$port}")
[[ " ${hc[*]} " == *" 127.0.0.1:$port "* ]] || fail "HEALTHCHECK does not probe 127.0.0.1:$declared_port: ${healthcheck[*]}"
in_image "${hc[@]}" >"$work/hc.out" 2>&1 || { cat "$work/hc.out" >&2; fail "the HEALTHCHECK command failed"; }
log "HEALTHCHECK (${healthcheck[*]:1}): $(cat "$work/hc.out")"

# ---- the process runs as the declared user ---------------------------------------------------
ids="$(ps -o uid=,gid= -p "$srvpid" | awk '{ print $1 ":" $2 }')"
log "$entry pid $srvpid runs as uid:gid $ids (image USER $user)"
[ "${ids%%:*}" = "$uid" ] || fail "the server runs as uid ${ids%%:*}, the image declares $user"
case "$user" in *:*) [ "$ids" = "$user" ] || fail "the server runs as $ids, the image declares $user" ;; esac

# ---- the bundled demo questions: the default model answers them ------------------------------
# The image's default model is the trained demo model (docs/demo-model.md); its bundled held-out
# questions (samples/demo/questions.jsonl, with their answers) must get at least 3 right answers,
# as scripts/demo.sh does on the host. 8 denoising steps: the answers are 8 tokens long.
samples="$(in_image sh -c 'echo "$SHIRG_SAMPLES_DIR"')"
[ -n "$samples" ] || fail "SHIRG_SAMPLES_DIR is not set in the image"
in_image cat "$samples/demo/questions.jsonl" >"$work/demo.jsonl" || fail "no samples/demo/questions.jsonl in the image"
right=0 asked=0
while IFS=$'\t' read -r img question want; do
  asked=$((asked + 1))
  in_image shirg-client --addr "127.0.0.1:$port" --image "$samples/demo/$img" --question "$question" \
    --steps 8 --json </dev/null >"$work/answer.json" 2>"$work/answer.err" || { cat "$work/answer.err" >&2; fail "the question failed"; }
  got="$(/usr/bin/python3 - "$work/answer.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert isinstance(r.get("answer"), str), r
t = r.get("timings", {})
print(r["answer"].strip())
print("(%s tokens, %s, %s prefix tokens, %.0f ms: vision %.0f, prefill %.0f, steps %.0f)" % (
    r.get("answer_tokens"), r.get("stop_reason"), r.get("prefix_tokens"), t.get("total_ms", 0),
    t.get("vision_ms", 0), t.get("prefill_ms", 0), t.get("steps_ms", 0)), file=sys.stderr)
PY
  )" 2>"$work/timing.txt" || fail "no answer in the reply"
  mark="wrong"; [ "$got" = "$want" ] && { mark="RIGHT"; right=$((right + 1)); }
  log "$img: $question -> '$got' (expected '$want') $mark $(cat "$work/timing.txt")"
done < <(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    q = json.loads(line)
    print("\t".join((q["image"], q["question"], q["answer"])))' "$work/demo.jsonl")
log "demo questions: $right of $asked right"
[ "$asked" -gt 0 ] && [ "$right" -ge 3 ] || fail "the default model answered $right of $asked demo questions right (at least 3 expected)"

# ---- /metrics -----------------------------------------------------------------------------------
/usr/bin/python3 - "$mport" <<'PY' || fail "/metrics check failed"
import re, sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
ok = [l for l in text.splitlines() if re.match(r'shirg_requests_total\{[^}]*code="OK"', l)]
assert ok and sum(float(l.split()[-1]) for l in ok) >= 1, "no OK request counted:\n" + text[:2000]
names = sorted({m for m in re.findall(r"^(shirg_[a-z_]+)", text, re.M)})
print("[test-image] /metrics: %d shirg_ series names; %s" % (len(names), "; ".join(ok)))
PY

# ---- SIGTERM: drain and a clean exit ---------------------------------------------------------
log "SIGTERM to pid $srvpid"
kill -TERM "$srvpid"
for _ in $(seq 1 60); do kill -0 "$runpid" 2>/dev/null || break; sleep 1; done
kill -0 "$runpid" 2>/dev/null && fail "the server did not exit within 60 s of SIGTERM"
rc=0; wait "$runpid" || rc=$?
runpid=""
grep -q '"stopped"\|] stopped\| stopped$' "$work/server.log" || { tail -n 5 "$work/server.log" >&2; fail "no 'stopped' in the log"; }
[ "$rc" = 0 ] || { tail -n 5 "$work/server.log" >&2; fail "exit status $rc after SIGTERM"; }
log "server exited with status 0; its log:"
sed 's/^/    /' "$work/server.log"

# ---- CUDA image without a GPU: --device cuda is refused at start -----------------------------
if [ -n "$cudnn" ]; then
  cuda_cmd=("${server_cmd[@]}")
  for i in "${!cuda_cmd[@]}"; do [ "${cuda_cmd[$i]}" = auto ] && [ "${cuda_cmd[$((i - 1))]}" = --device ] && cuda_cmd[$i]=cuda; done
  t0=$(date +%s.%N)
  rc=0
  timeout 120 buildah run --isolation chroot "${run_opts[@]}" "$cli" -- "${cuda_cmd[@]}" >"$work/cuda.log" 2>&1 || rc=$?
  secs="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
  log "--device cuda without a GPU: exit status $rc after $secs s; output:"
  sed 's/^/    /' "$work/cuda.log"
  [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "--device cuda without a GPU did not exit with an error (status $rc)"
  last="$(grep -v '^[[:space:]]*$' "$work/cuda.log" | tail -n 1)"
  grep -qi 'cuda' <<<"$last" || fail "--device cuda: its last line does not name CUDA: '$last'"
  log "--device cuda refused: $last"
fi
log "PASS: image $(( size / 1000000 )) MB, SERVING after $to_serving s"

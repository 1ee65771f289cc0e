#!/usr/bin/python3
"""Static consistency checks of docker/ and deploy/ against what shirg-server exposes.

usage: check_deploy.py SOURCE_DIR [--server-help FILE] [--image IMAGE]

Reads docs/architecture.md ("Ports, flags and metrics"), the Dockerfiles, docker/compose.yaml,
docker/prometheus.yml and every manifest under deploy/. With --server-help (the output of
`shirg-server --help`) every flag used in a manifest must be one the server accepts, and the
grace period must match. With --image (an image built by scripts/build-image.sh; needs root and
podman) the image itself is read: its config must be its Dockerfile's (docker/Dockerfile, or
docker/Dockerfile.cuda for the CUDA image), the paths, user, ports and commands the Compose file
(with docker/compose.gpu.yaml for the CUDA image) and manifests use must exist in it, and the
flags are checked against the `shirg-server --help` of the image's own binary.
Prints one line per check; exit status 1 if any check failed.
"""
import glob
import json
import os
import re
import shlex
import stat
import subprocess
import sys

import yaml

failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def architecture(src):
    text = open(os.path.join(src, "docs", "architecture.md")).read()
    sec = text[text.index("## Ports, flags and metrics"):]
    port = int(re.search(r"--port (\d+)", sec).group(1))
    metrics_port = int(re.search(r"--metrics-port (\d+)", sec).group(1))
    path = re.search(r"path `(/[^`]+)`", sec).group(1)
    metrics = set(re.findall(r"`(shirg_[a-z_]+)", sec))
    health = re.findall(r'service "([^"]*)"(?: and "([^"]+)")?', sec)
    services = {s for pair in health for s in pair if s}
    return {"port": port, "metrics_port": metrics_port, "path": path, "metrics": metrics,
            "services": services | {""}}


def server_flags(help_file):
    text = open(help_file).read()
    flags = set(re.findall(r"^\s+--([a-z][a-z0-9-]*)", text, re.M))
    defaults = {}
    for m in re.finditer(r"--grace-period-seconds\b.*?\(default:? ?([0-9.]+)", text, re.S):
        defaults["grace-period-seconds"] = float(m.group(1))
        break
    return flags, defaults


def flags_of(args):
    """{'port': '50051', ...} from ['--port=50051', '--model-dir', 'X', ...]."""
    out, i = {}, 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            if "=" in a:
                k, v = a[2:].split("=", 1)
            elif i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
                k, v = a[2:], str(args[i + 1])
                i += 1
            else:
                k, v = a[2:], "true"
            out[k] = v
        i += 1
    return out


def dockerfile_stages(path):
    stages, cur = [], None
    lines = open(path).read().replace("\\\n", " ").splitlines()
    for line in lines:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        word, _, rest = s.partition(" ")
        word = word.upper()
        if word == "FROM":
            cur = {"from": rest, "name": rest.split()[-1] if " AS " in rest.upper() else "",
                   "instr": []}
            stages.append(cur)
        elif cur is not None:
            cur["instr"].append((word, rest.strip()))
    return stages


def json_or_shell(rest):
    rest = rest.strip()
    if rest.startswith("["):
        return yaml.safe_load(rest)
    return shlex.split(rest)


def ci_runs_install_script(src):
    """Follows .ci/run through the scripts it runs; True if one runs scripts/install-deps.sh."""
    seen, todo = set(), [os.path.join(src, ".ci", "run")]
    while todo:
        f = todo.pop()
        if f in seen or not os.path.exists(f):
            continue
        seen.add(f)
        text = open(f).read()
        if re.search(r"(^|[\s/\"])install-deps\.sh", text, re.M) and not f.endswith("install-deps.sh"):
            return True
        for m in re.findall(r"scripts/([A-Za-z0-9_.-]+\.sh)", text):
            todo.append(os.path.join(src, "scripts", m))
    return False


def check_dockerfile(path, arch, help_flags):
    name = os.path.relpath(path, SRC)
    stages = dockerfile_stages(path)
    check(len(stages) >= 2, f"{name}: multi-stage ({len(stages)} stages)")
    build, runtime = stages[0], stages[-1]
    runs = " ".join(r for w, r in build["instr"] if w == "RUN")
    if name == "docker/Dockerfile":
        check(re.search(r"(^|\s)scripts/install-deps\.sh", runs) is not None,
              f"{name}: build stage runs scripts/install-deps.sh")
        check("debian:12" in open(path).read(), f"{name}: build stage on Debian 12")
    rt = dict()
    for w, r in runtime["instr"]:
        rt.setdefault(w, []).append(r)
    users = rt.get("USER", [])
    check(users and users[-1].split(":")[0] not in ("0", "root"), f"{name}: runs as non-root ({users})")
    vols = " ".join(rt.get("VOLUME", []))
    check("/models" in vols, f"{name}: model directory is a volume")
    exposed = {int(p.split("/")[0]) for e in rt.get("EXPOSE", []) for p in e.split()}
    check({arch["port"], arch["metrics_port"]} <= exposed,
          f"{name}: exposes gRPC {arch['port']} and metrics {arch['metrics_port']} ({sorted(exposed)})")
    hc = " ".join(rt.get("HEALTHCHECK", []))
    check("shirg-client" in hc and "--health" in hc and f":{arch['port']}" in hc,
          f"{name}: HEALTHCHECK runs shirg-client --health on the gRPC port")
    ep = json_or_shell(rt.get("ENTRYPOINT", ["[]"])[-1])
    check(ep and ep[0].endswith("/shirg-server"), f"{name}: entrypoint is shirg-server ({ep})")
    cmd = flags_of(json_or_shell(rt.get("CMD", ["[]"])[-1]))
    check(cmd.get("port") == str(arch["port"]) and cmd.get("metrics-port") == str(arch["metrics_port"]),
          f"{name}: CMD ports {cmd.get('port')}/{cmd.get('metrics-port')}")
    if help_flags is not None:
        unknown = set(cmd) - help_flags
        check(not unknown, f"{name}: CMD flags known to shirg-server (unknown: {sorted(unknown)})")
    return cmd, exposed, users


def load_all(pattern):
    docs = []
    for f in sorted(glob.glob(os.path.join(SRC, pattern), recursive=True)):
        for d in yaml.safe_load_all(open(f)):
            if d:
                docs.append((os.path.relpath(f, SRC), d))
    return docs


def main():
    global SRC
    SRC = sys.argv[1]
    help_flags, defaults = None, {}
    image = sys.argv[sys.argv.index("--image") + 1] if "--image" in sys.argv else None
    rootfs = None
    if image:
        rootfs = subprocess.run(["podman", "image", "mount", image], check=True, capture_output=True,
                                text=True).stdout.strip()
        help_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"shirg-image-help.{os.getpid()}")
        with open(help_file, "w") as out:
            subprocess.run(image_command(image, rootfs, ["/opt/shirg/bin/shirg-server", "--help"]),
                           check=True, stdout=out)
        sys.argv += ["--server-help", help_file]
    if "--server-help" in sys.argv:
        help_flags, defaults = server_flags(sys.argv[sys.argv.index("--server-help") + 1])
        check(len(help_flags) > 5, f"server --help lists {len(help_flags)} flags")
        for f in ("port", "metrics-port", "host", "model-dir", "grace-period-seconds"):
            check(f in help_flags, f"server accepts --{f}")
    arch = architecture(SRC)
    check(arch["metrics"] >= {"shirg_queue_depth", "shirg_requests_total"},
          f"architecture.md metrics parsed ({len(arch['metrics'])})")
    check(ci_runs_install_script(SRC), ".ci/run reaches scripts/install-deps.sh (CI uses the script)")

    cpu_cmd, cpu_ports, cpu_user = check_dockerfile(os.path.join(SRC, "docker", "Dockerfile"), arch, help_flags)
    gpu_cmd, gpu_ports, gpu_user = check_dockerfile(os.path.join(SRC, "docker", "Dockerfile.cuda"), arch, help_flags)
    check(cpu_cmd == gpu_cmd and cpu_ports == gpu_ports and cpu_user == gpu_user,
          "Dockerfile.cuda agrees with Dockerfile (CMD, ports, user)")
    cuda_text = open(os.path.join(SRC, "docker", "Dockerfile.cuda")).read()
    for arg in sorted(set(re.findall(r"^ARG (\w+)", cuda_text, re.M))):
        check(re.search(rf"^#\s+{arg}\b", cuda_text, re.M), f"Dockerfile.cuda: build arg {arg} documented")
    cuda_runs = " ".join(r for w, r in dockerfile_stages(os.path.join(SRC, "docker", "Dockerfile.cuda"))[0]["instr"]
                         if w == "RUN")
    check(re.search(r"(^|\s)scripts/install-deps\.sh --build-only --cuda", cuda_runs) is not None,
          "Dockerfile.cuda: build stage runs scripts/install-deps.sh --build-only --cuda")
    check("-DSHIRG_WITH_CUDA=ON" in cuda_runs, "Dockerfile.cuda: configured with -DSHIRG_WITH_CUDA=ON")
    check(re.search(r"^ARG DEBIAN_IMAGE=debian:13$", cuda_text, re.M) is not None, "Dockerfile.cuda: on Debian 13")
    # The shipped default is the real cuDNN; the stand-in only where asked for (offline builds).
    check(re.findall(r"^ARG CUDNN=(\S+)", cuda_text, re.M) in (["nvidia"], ["nvidia", "nvidia"]),
          "Dockerfile.cuda: CUDNN defaults to the real nvidia-cudnn")

    # Compose + Prometheus.
    compose = yaml.safe_load(open(os.path.join(SRC, "docker", "compose.yaml")))
    srv = compose["services"]["shirg-server"]
    cflags = flags_of(srv["command"])
    published = {int(str(p).split(":")[-1]) for p in srv["ports"]}
    check({arch["port"], arch["metrics_port"]} <= published, f"compose publishes {sorted(published)}")
    if help_flags is not None:
        check(not set(cflags) - help_flags, f"compose flags known to the server ({sorted(cflags)})")
    prom_mounts = " ".join(compose["services"]["prometheus"]["volumes"])
    check("prometheus.yml" in prom_mounts, "compose mounts docker/prometheus.yml into Prometheus")
    prom = yaml.safe_load(open(os.path.join(SRC, "docker", "prometheus.yml")))
    job = [j for j in prom["scrape_configs"] if j["job_name"] == "shirg-server"][0]
    check(job.get("metrics_path", "/metrics") == arch["path"], f"prometheus metrics_path {arch['path']}")
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    check(targets == [f"shirg-server:{cflags.get('metrics-port')}"],
          f"prometheus scrapes the compose service's metrics port ({targets})")

    # The GPU Compose file on top of the base one: the CUDA image from Dockerfile.cuda, GPUs reserved.
    gpu_compose = merged_compose(compose, os.path.join(SRC, "docker", "compose.gpu.yaml"))
    gsrv = gpu_compose["services"]["shirg-server"]
    check(gsrv["build"]["dockerfile"] == "docker/Dockerfile.cuda" and gsrv["image"] == "shirg-server:cuda",
          f"compose.gpu.yaml builds docker/Dockerfile.cuda as {gsrv['image']}")
    devices = gsrv.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    check(any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices),
          "compose.gpu.yaml reserves NVIDIA GPUs")
    check(gsrv["command"] == srv["command"] and gsrv["ports"] == srv["ports"],
          "compose.gpu.yaml keeps the base file's server flags and ports")
    gpu_overlay = yaml.safe_load(open(os.path.join(SRC, "deploy", "overlays", "gpu", "kustomization.yaml")))
    check(overlay_image(gpu_overlay) == gsrv["image"],
          f"the GPU overlay's image {overlay_image(gpu_overlay)} is compose.gpu.yaml's")
    check("nvidia.com~1gpu" in yaml.safe_dump(gpu_overlay["patches"]), "the GPU overlay asks for nvidia.com/gpu")

    # Kubernetes manifests.
    docs = load_all("deploy/**/*.yaml")
    kinds = {}
    for f, d in docs:
        kinds.setdefault(d.get("kind"), []).append((f, d))
    dep = [d for f, d in kinds["Deployment"] if d["metadata"]["name"] == "shirg-server"][0]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = flags_of(c["args"])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("grpc") == arch["port"] == int(args["port"]), f"deployment gRPC port {ports.get('grpc')}")
    check(ports.get("metrics") == arch["metrics_port"] == int(args["metrics-port"]),
          f"deployment metrics port {ports.get('metrics')}")
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    check(ann["prometheus.io/path"] == arch["path"] and int(ann["prometheus.io/port"]) == arch["metrics_port"],
          "deployment scrape annotations match the metrics endpoint")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        p = c.get(probe, {})
        check("grpc" in p and p["grpc"]["port"] == arch["port"], f"{probe} is a native gRPC probe on {arch['port']}")
        check(p.get("grpc", {}).get("service", "") in arch["services"],
              f"{probe} service {p.get('grpc', {}).get('service', '')!r} is one the server reports")
    st = c["startupProbe"]
    check(st["periodSeconds"] * st["failureThreshold"] >= 300,
          f"startupProbe allows {st['periodSeconds'] * st['failureThreshold']} s for model loading")
    check(c["readinessProbe"]["grpc"].get("service") == "shirg.v1.Inference", "readiness checks shirg.v1.Inference")
    res = c["resources"]
    check("cpu" in res["requests"] and "memory" in res["requests"] and "memory" in res["limits"],
          "resources requests and limits set")
    grace = float(args["grace-period-seconds"])
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = float(pre[-1]) if pre and "sleep" in pre[0] else 0.0
    tgps = pod["terminationGracePeriodSeconds"]
    check(tgps >= grace + pre_s and tgps <= grace + pre_s + 30,
          f"terminationGracePeriodSeconds {tgps} covers preStop {pre_s} + server grace {grace}")
    if "grace-period-seconds" in defaults:
        check(True, f"server default grace period {defaults['grace-period-seconds']} s")
    if help_flags is not None:
        check(not set(args) - help_flags, f"deployment flags known to the server ({sorted(args)})")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    check(args["model-dir"].startswith(mounts.get("models", "//")), f"--model-dir {args['model-dir']} on the model volume")
    check(pod["securityContext"].get("runAsNonRoot") is True, "pods run as non-root")

    labels = dep["spec"]["template"]["metadata"]["labels"]
    svcs = {d["metadata"]["name"]: d for f, d in kinds["Service"]}
    for name, s in svcs.items():
        check(all(labels.get(k) == v for k, v in s["spec"]["selector"].items()), f"service {name} selects the pods")
        for p in s["spec"]["ports"]:
            check(p["targetPort"] in ports or p["targetPort"] in ports.values(),
                  f"service {name} port {p['name']} targets a container port")
            if p["name"] == "grpc":
                check(p["port"] == arch["port"] and p.get("appProtocol") == "kubernetes.io/h2c",
                      f"service {name} gRPC port {p['port']} is h2c")
    check(any(s["spec"].get("clusterIP") == "None" for s in svcs.values()), "a headless Service exists")

    hpa = kinds["HorizontalPodAutoscaler"][0][1]
    check(hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"], "HPA scales the Deployment")
    mnames = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    check("shirg_queue_depth" in mnames and set(mnames) <= arch["metrics"],
          f"HPA metric {mnames} is a server metric")
    pdb = kinds["PodDisruptionBudget"][0][1]
    check(all(labels.get(k) == v for k, v in pdb["spec"]["selector"]["matchLabels"].items()), "PDB selects the pods")
    adapter = [d for f, d in kinds["ConfigMap"] if "prometheus-adapter" in d["metadata"]["name"]]
    check(adapter and "shirg_queue_depth" in adapter[0]["data"]["config.yaml"], "adapter rule exports the HPA metric")
    pvc_names = {d["metadata"]["name"] for f, d in kinds["PersistentVolumeClaim"]}
    claim = [v for v in pod["volumes"] if v["name"] == "models"][0]
    check(claim["persistentVolumeClaim"]["claimName"] in pvc_names, "model volume is the shirg-models PVC")

    rt = kinds["ServingRuntime"][0][1]
    kc = rt["spec"]["containers"][0]
    kargs = flags_of(kc["args"])
    check([p["name"] for p in kc["ports"]] == ["h2c"] and kc["ports"][0]["containerPort"] == int(kargs["port"]),
          "KServe runtime: single container port named h2c = --port")
    check(kargs["model-dir"] == "/mnt/models", "KServe runtime reads the model from /mnt/models")
    if help_flags is not None:
        check(not set(kargs) - help_flags, f"KServe flags known to the server ({sorted(kargs)})")
    isvc = kinds["InferenceService"][0][1]
    fmt = isvc["spec"]["predictor"]["model"]["modelFormat"]["name"]
    check(fmt in [m["name"] for m in rt["spec"]["supportedModelFormats"]] and
          isvc["spec"]["predictor"]["model"]["runtime"] == rt["metadata"]["name"],
          "InferenceService uses the runtime and its model format")

    if image:
        try:
            check_image(image, rootfs, arch, dep, compose, kinds)
        finally:
            os.remove(help_file)
            subprocess.run(["podman", "image", "unmount", image], capture_output=True)

    print(f"{len(failures)} failed")
    return 1 if failures else 0


def image_command(image, rootfs, argv):
    """argv run inside the image. A CUDA image built with the cuDNN stand-in has no libcudnn.so.9:
    its programs run with the stub of tests/deploy/cudnn_stub.sh mounted (this run only)."""
    labels = json.loads(subprocess.run(["podman", "image", "inspect", "--format", "{{json .Config.Labels}}",
                                        image], check=True, capture_output=True, text=True).stdout) or {}
    if labels.get("org.shirg.cudnn") != "standin":
        return ["chroot", rootfs] + argv
    stub = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"shirg-cudnn-stub.{os.getpid()}")
    subprocess.run(["bash", os.path.join(SRC, "tests", "deploy", "cudnn_stub.sh"), image, stub], check=True,
                   stdout=sys.stderr)
    script = ('c="$(buildah from --pull-never "$0")"; trap \'buildah rm "$c" >/dev/null; rm -rf "$1"\' EXIT; '
              'buildah run --isolation chroot --volume "$1:/opt/shirg-test-cudnn-stub:ro" '
              '--env LD_LIBRARY_PATH=/opt/shirg-test-cudnn-stub "$c" -- "${@:2}"')
    return ["bash", "-c", script, image, stub] + argv


def merged_compose(base, override_file):
    """docker compose -f base -f override for the keys used here (service keys replaced whole)."""
    out = json.loads(json.dumps(base))
    for name, svc in yaml.safe_load(open(override_file))["services"].items():
        out["services"].setdefault(name, {}).update(svc)
    return out


def overlay_image(overlay):
    """The image a kustomize overlay sets for shirg-server:cpu, as NAME:TAG."""
    img = [i for i in overlay.get("images", []) if i["name"] == "shirg-server:cpu"][0]
    return f"{img.get('newName', 'shirg-server')}:{img['newTag']}"


def in_root(root, path, depth=0):
    """path resolved inside the image root (symlinks, absolute ones included, stay inside)."""
    parts = [p for p in path.split("/") if p]
    cur = "/"
    for i, part in enumerate(parts):
        nxt = os.path.join(cur, part)
        host = root + nxt
        if os.path.islink(host) and depth < 40:
            target = os.readlink(host)
            base = target if target.startswith("/") else os.path.join(cur, target)
            return in_root(root, os.path.normpath(os.path.join(base, *parts[i + 1:])), depth + 1)
        cur = nxt
    return root + cur


def readable_by(st, uid, gid, need):
    """need: 4 read, 1 execute; by owner, group or others."""
    mode = st.st_mode
    if st.st_uid == uid:
        return mode & (need << 6) == need << 6
    if st.st_gid == gid:
        return mode & (need << 3) == need << 3
    return mode & need == need


def check_image(image, root, arch, dep, compose, kinds):
    """The built image against docker/Dockerfile, compose and the manifests."""
    info = json.loads(subprocess.run(["podman", "image", "inspect", image], check=True,
                                     capture_output=True, text=True).stdout)[0]
    cfg = info["Config"]
    # The CUDA image (docker/Dockerfile.cuda) carries the label org.shirg.cudnn; it is checked
    # against compose.gpu.yaml and the GPU overlay, the CPU image against compose.yaml and the base.
    cuda = "org.shirg.cudnn" in (cfg.get("Labels") or {})
    dockerfile = "Dockerfile.cuda" if cuda else "Dockerfile"
    print(f"image {image}: checked against docker/{dockerfile}" +
          (f" (cuDNN: {cfg['Labels']['org.shirg.cudnn']})" if cuda else ""))
    if cuda:
        compose = merged_compose(compose, os.path.join(SRC, "docker", "compose.gpu.yaml"))
    stages = dockerfile_stages(os.path.join(SRC, "docker", dockerfile))
    rt = {}
    for w, r in stages[-1]["instr"]:
        rt.setdefault(w, []).append(r)
    name = f"image {image}"
    check(cfg.get("Entrypoint") == json_or_shell(rt["ENTRYPOINT"][-1]), f"{name}: ENTRYPOINT is the Dockerfile's")
    check(cfg.get("Cmd") == json_or_shell(rt["CMD"][-1]), f"{name}: CMD is the Dockerfile's")
    check(cfg.get("User") == rt["USER"][-1], f"{name}: USER {cfg.get('User')} is the Dockerfile's")
    hc = (info.get("Healthcheck") or cfg.get("Healthcheck") or {}).get("Test") or []
    df_hc = json_or_shell(rt["HEALTHCHECK"][-1].split(" CMD ", 1)[1])
    check(hc[1:] == df_hc, f"{name}: HEALTHCHECK kept ({hc})")
    ports = {int(p.split("/")[0]) for p in (cfg.get("ExposedPorts") or {})}
    check(ports == {arch["port"], arch["metrics_port"]}, f"{name}: exposes {sorted(ports)}")
    vols = set(cfg.get("Volumes") or {})
    check(vols == {"/models"}, f"{name}: volumes {sorted(vols)}")
    uid, gid = (int(x) for x in cfg["User"].split(":"))
    check(uid != 0, f"{name}: non-root uid {uid}")

    def executable(path, what):
        p = in_root(root, path)
        ok = os.path.isfile(p) and readable_by(os.stat(p), uid, gid, 5)
        check(ok, f"{name}: {what} {path} exists and user {uid} may run it")

    def model_dir(path, what):
        p = in_root(root, path)
        ok = os.path.isfile(os.path.join(p, "config.json"))
        for d, _, files in os.walk(p):
            ok = ok and readable_by(os.stat(d), uid, gid, 5)
            ok = ok and all(readable_by(os.stat(os.path.join(d, f)), uid, gid, 4) for f in files)
        check(ok, f"{name}: {what} model {path} has config.json and user {uid} may read every file")

    executable(cfg["Entrypoint"][0], "entrypoint")
    executable(hc[1], "health check")
    model_dir(flags_of(cfg["Cmd"])["model-dir"], "CMD")
    adapter = flags_of(cfg["Cmd"]).get("adapter-dir")
    if adapter:
        check(os.path.isfile(os.path.join(in_root(root, adapter), "adapter_config.json"))
              and os.path.isfile(os.path.join(in_root(root, adapter), "adapter_model.safetensors")),
              f"{name}: CMD adapter {adapter} holds adapter_config.json and adapter_model.safetensors")
    env = dict(e.split("=", 1) for e in cfg.get("Env", []))
    samples = env.get("SHIRG_SAMPLES_DIR", "")
    check(samples and os.path.isfile(in_root(root, samples + "/questions.jsonl")),
          f"{name}: SHIRG_SAMPLES_DIR {samples} holds questions.jsonl")
    m = os.stat(in_root(root, "/models"))
    check(stat.S_ISDIR(m.st_mode) and m.st_uid == uid and m.st_gid == gid, f"{name}: /models owned by {uid}:{gid}")

    # Compose: the default model, the checkpoint mount under the volume.
    srv = compose["services"]["shirg-server"]
    cflags = flags_of(srv["command"])
    default_dir = re.sub(r"^\$\{[A-Z_]+:-(.*)\}$", r"\1", cflags["model-dir"])
    model_dir(default_dir, "compose default")
    targets = [re.search(r":(/[^:]*)(:r[ow])?$", v).group(1) for v in srv["volumes"]]
    check(all(t.startswith("/models/") for t in targets), f"compose mounts {targets} under the /models volume")
    check(srv["image"] in [t.replace("localhost/", "") for t in info.get("RepoTags", [])],
          f"compose image {srv['image']} is a tag of the built image ({info.get('RepoTags')})")

    # Kubernetes: user, model volume, preStop command, the demo overlay's model directory.
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = pod["securityContext"]
    check((sc.get("runAsUser"), sc.get("runAsGroup"), sc.get("fsGroup")) == (uid, gid, gid),
          f"deployment runs as the image's user {uid}:{gid}")
    if cuda:
        gpu_overlay = yaml.safe_load(open(os.path.join(SRC, "deploy", "overlays", "gpu", "kustomization.yaml")))
        check(overlay_image(gpu_overlay) in [t.replace("localhost/", "") for t in info.get("RepoTags", [])],
              f"GPU overlay image {overlay_image(gpu_overlay)} is a tag of the built image")
    else:
        check(c["image"] == srv["image"], f"deployment image {c['image']} is the built one")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    check(mounts.get("models") in vols, f"deployment mounts the models volume at {mounts.get('models')}")
    executable(c["lifecycle"]["preStop"]["exec"]["command"][0], "preStop command")
    demo = open(os.path.join(SRC, "deploy", "overlays", "demo", "kustomization.yaml")).read()
    demo_dir = re.search(r"--model-dir=(\S+)", demo).group(1)
    model_dir(demo_dir, "demo overlay")
    if not cuda:
        rt_c = kinds["ServingRuntime"][0][1]["spec"]["containers"][0]
        check(rt_c["image"] == srv["image"], f"KServe runtime image {rt_c['image']} is the built one")


if __name__ == "__main__":
    sys.exit(main())

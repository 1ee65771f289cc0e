#!/usr/bin/python3
"""Runs Debian's Prometheus against a running shirg-server and checks that it scraped shirg_
metrics through the scrape job of docker/prometheus.yml (same job name and metrics_path).

usage: prometheus_scrape_check.py SERVER_BIN MODEL_DIR SOURCE_DIR WORK_DIR
Loopback only; every wait is bounded (server start 180 s, scrape 60 s); both processes are
stopped at the end. Exit status 0 when Prometheus reports up == 1 and shirg_ series.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import yaml


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(p):
    if p and p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def query(port, q):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)["data"]["result"]


def main():
    server_bin, model, src, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    compose_prom = yaml.safe_load(open(os.path.join(src, "docker", "prometheus.yml")))
    job = [j for j in compose_prom["scrape_configs"] if j["job_name"] == "shirg-server"][0]
    port_file = os.path.join(work, "ports")
    server = prom = None
    try:
        server = subprocess.Popen(
            [server_bin, "--model-dir", model, "--host", "127.0.0.1", "--port", "0",
             "--metrics-port", "0", "--port-file", port_file],
            stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        ports = {}
        while time.time() < deadline and server.poll() is None:
            if os.path.exists(port_file):
                text = open(port_file).read()
                ports = dict(l.split("=") for l in text.split() if "=" in l)
                if "metrics" in ports:
                    break
            time.sleep(0.2)
        if "metrics" not in ports:
            print("server did not write its ports:\n" + open(os.path.join(work, "server.log")).read())
            return 1
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
               "scrape_configs": [{"job_name": job["job_name"],
                                   "metrics_path": job.get("metrics_path", "/metrics"),
                                   "static_configs": [{"targets": [f"127.0.0.1:{ports['metrics']}"]}]}]}
        cfg_path = os.path.join(work, "prometheus.yml")
        yaml.safe_dump(cfg, open(cfg_path, "w"))
        web = free_port()
        prom = subprocess.Popen(
            ["prometheus", f"--config.file={cfg_path}", f"--storage.tsdb.path={work}/data",
             f"--web.listen-address=127.0.0.1:{web}"],
            stdout=open(os.path.join(work, "prometheus.log"), "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        last = None
        while time.time() < deadline:
            try:
                up = query(web, 'up{job="shirg-server"}')
                series = query(web, 'count({__name__=~"shirg_.+", job="shirg-server"})')
                depth = query(web, "shirg_queue_depth")
                last = (up, series, depth)
                if up and up[0]["value"][1] == "1" and series and depth:
                    print(f"ok: Prometheus scraped {series[0]['value'][1]} shirg_ series from "
                          f"127.0.0.1:{ports['metrics']}{job.get('metrics_path', '/metrics')}; "
                          f"shirg_queue_depth = {depth[0]['value'][1]}")
                    return 0
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        print(f"FAIL: no shirg_ metrics scraped within 60 s; last answers: {last}")
        print(open(os.path.join(work, "prometheus.log")).read()[-2000:])
        return 1
    finally:
        stop(prom)
        stop(server)


if __name__ == "__main__":
    sys.exit(main())

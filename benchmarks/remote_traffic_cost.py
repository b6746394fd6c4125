"""What following a remote container's access log costs over SSH.

gtui reads the traffic of a container on another host from its log stream,
through that host's Docker API over the one SSH connection. This measures
the bytes over SSH of ``gtui watch --jsonl --interval 1`` on
``hostb/CONTAINER`` (a container logging each request to stdout) with a
bounded load at ``--rate`` requests/s to its 127.0.0.1 port, against the same
watch with no load (the baseline, same run), and says what each request
costs on the wire beside the access log line itself. It also checks that
every request sent was counted.

Host B is a second dockerd behind its own sshd on 127.0.0.1
(tests/harness/remote_hosts.py). Run from the repository root as root:

    python benchmarks/remote_traffic_cost.py                 # 20 s windows, 3 repeats
    python benchmarks/remote_traffic_cost.py --seconds 10 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import free_port
from benchmarks.remote_cost import IMAGE, WITH_GTUI, ssh_bytes, start_host
from tests.harness.containers import ContainerFactory
from tests.harness.remote_hosts import SshServer

WARMUP_S = 8.0


def send_at(port: int, rate: float, seconds: float, sent: list[int]) -> None:
    """``rate`` requests/s to 127.0.0.1:port for ``seconds`` (bounded)."""
    started = time.monotonic()
    for index in range(int(rate * seconds)):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            response.read()
        sent[0] += 1


def window(
    mode: str, sshd: SshServer, name: str, port: int, rate: float, seconds: float
) -> dict[str, float]:
    """One watch: bytes/s over SSH during ``seconds`` of load at ``rate``
    (0: none), and the requests it counted."""
    env = dict(os.environ)
    env["GTUI_REMOTE_GTUI"] = WITH_GTUI if mode == "agent" else "/nonexistent/gtui"
    watch = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "watch", "--jsonl", "--interval", "1",
         "--statsd", "off", "-H", f"ssh://{sshd.alias}", f"{sshd.alias}/{name}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
    )  # fmt: skip
    last: dict[str, Any] = {}

    def read() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            last.update(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = [0]
    try:
        time.sleep(WARMUP_S)
        counted_before = (last.get("traffic") or {}).get("requests_total") or 0
        start = (time.monotonic(), ssh_bytes(sshd.port))
        if rate > 0:
            send_at(port, rate, seconds, sent)
        remaining = start[0] + seconds - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        end = (time.monotonic(), ssh_bytes(sshd.port))
        time.sleep(2.5)  # the last lines reach a record
        counted = ((last.get("traffic") or {}).get("requests_total") or 0) - counted_before
        assert watch.poll() is None, "gtui watch ended early"
    finally:
        watch.terminate()
        watch.wait(timeout=20)
    return {
        "bytes_per_s": (end[1] - start[1]) / (end[0] - start[0]),
        "sent": float(sent[0]),
        "counted": float(counted),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    args = parser.parse_args()
    source = docker.from_env()
    print("starting hostb: a second dockerd behind its own sshd", flush=True)
    engine, sshd = start_host("hostb", source)
    saved_path = os.environ["PATH"]
    os.environ["PATH"] = f"{sshd.bin_dir}{os.pathsep}{saved_path}"
    factory = ContainerFactory(engine.client)
    try:
        port = free_port()
        container = factory.start(
            IMAGE,
            ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--access-logfile", "-", "app:app"],
        )
        factory.wait_http(container, port)
        name = str(container.name)
        # The size of one access log line, as the container writes it.
        log_tail = container.logs(stdout=True, stderr=False).decode().strip().splitlines()
        line_bytes = len(log_tail[-1]) + 1 if log_tail else 0
        results: dict[str, list[dict[str, float]]] = {}
        for repeat in range(args.repeats):
            for mode in ("agent", "api"):
                for rate in (0.0, args.rate):
                    got = window(mode, sshd, name, port, rate, args.seconds)
                    results.setdefault(f"{mode} {rate:g}", []).append(got)
                    print(f"  repeat {repeat + 1} {mode} at {rate:g} req/s: " + ", ".join(
                        f"{k} {v:.0f}" for k, v in got.items()), flush=True)  # fmt: skip
        print(f"\nwatch --interval 1 on hostb, load {args.rate:g} req/s, "
              f"medians of {args.repeats} x {args.seconds:g} s; access log line "
              f"{line_bytes} B:")  # fmt: skip
        for mode in ("agent", "api"):
            idle = statistics.median(r["bytes_per_s"] for r in results[f"{mode} 0"])
            loaded_rows = results[f"{mode} {args.rate:g}"]
            loaded = statistics.median(r["bytes_per_s"] for r in loaded_rows)
            per_request = (loaded - idle) / args.rate
            counted = sum(r["counted"] for r in loaded_rows)
            sent = sum(r["sent"] for r in loaded_rows)
            print(f"  {mode:5}: {idle:7.0f} B/s idle, {loaded:7.0f} B/s loaded "
                  f"(x{loaded / max(1.0, idle):.2f}); {per_request:.0f} B over SSH per "
                  f"request ({per_request / max(1, line_bytes):.2f} x its log line); "
                  f"counted {counted:.0f} of {sent:.0f} sent")  # fmt: skip
    finally:
        os.environ["PATH"] = saved_path
        factory.close()
        sshd.close()
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

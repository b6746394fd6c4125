"""What changing a Compose service and a bridge-network container costs the clients.

1. A Compose project (Debian's docker-compose v1) with 3 replicas of
   gtui-test/gunicorn:latest (2 sync workers) on the project's bridge network,
   each published on 127.0.0.1 (a port the engine picks). An independent
   client, ``hey``, loads every replica on its published port (bounded:
   ``--rate`` requests/s per replica for ``--seconds``). Two seconds in,
   ``gtui retune PROJECT/SERVICE`` rolls over the replicas one at a time:
   - HUP roll: ``--max-requests 1000`` (gtui config file, HUP)   goal: 0 failed
   - re-create roll: ``--timeout 45`` (pinned on the command line)
   Baseline in the same run: the same load with no action, and the Compose
   way, ``docker-compose up -d --force-recreate`` after editing the file
   (all replicas at once, host ports chosen again).
   Printed: requests and failed requests as hey counted them, the roll's
   wall time (the gtui command from start to exit: its start-up, sampling,
   a plan per replica and the actions) and ``served s``, the sum over the
   replicas of the executor's "new config served after" (from each
   replica's first step until it serves the new config).
   Each client is pinned to one replica's port (no load balancer here): a
   re-created replica's gap is seen by its client even while the others serve.
2. One container on a bridge network, published on 127.0.0.1, re-created by
   ``gtui retune --timeout 45`` (pinned on its command line) while a prober
   sends GET /health back to back: the longest gap between two answers
   (goal <= 2 s), against ``docker restart`` of the same container.

Usage: ``python benchmarks/service_shapes.py [--seconds 12] [--rate 40] [--repeats 1]``
(needs Docker, docker-compose, hey, and the test images from
``python tests/images/build.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._support import GUNICORN_LATEST, free_port, owner_labels, wait_http  # noqa: E402
from benchmarks.retune_disruption import parse_hey  # noqa: E402

ACTION_AT_S = 2.0
CONCURRENCY = 2
REPLICAS = 3


@dataclass(frozen=True)
class RollResult:
    requests: int
    failed: int
    roll_s: float | None
    # Sum over the replicas of "new config served after" (the executor's own
    # measure, from its first step to the replica serving the new config).
    served_s: float | None = None


def gtui(*args: str, env: dict[str, str] | None = None, timeout_s: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"gtui {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def hey(port: int, seconds: float, rate: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "hey",
            "-z",
            f"{seconds}s",
            "-c",
            str(CONCURRENCY),
            "-q",
            str(max(1, rate // CONCURRENCY)),
            "-t",
            "5",
            f"http://127.0.0.1:{port}/health",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


COMPOSE = """version: "2.4"
services:
  web:
    image: {image}
    command: ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "--timeout", "{timeout}", "app:app"]
    ports:
      - "127.0.0.1::8000"
    labels:
{labels}
"""


class Project:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"gtui-bench-{uuid.uuid4().hex[:8]}"
        self.file = directory / "docker-compose.yml"
        labels = "\n".join(f'      {k}: "{v}"' for k, v in owner_labels().items())
        self.labels = labels

    def write(self, timeout: int) -> None:
        self.file.write_text(
            COMPOSE.format(image=GUNICORN_LATEST, timeout=timeout, labels=self.labels)
        )

    def compose(self, *args: str) -> None:
        subprocess.run(
            ["docker-compose", "-p", self.name, "-f", str(self.file), *args],
            cwd=self.directory,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def ports(self) -> list[int]:
        out = gtui("snapshot", f"{self.name}/web", "--json")
        instances = json.loads(out)["instances"]
        return sorted(int(i["reach"]["url"].rsplit(":", 1)[1]) for i in instances)


def roll_once(project: Project, action: list[str] | None, seconds: float, rate: int) -> RollResult:
    project.write(30)
    project.compose("up", "-d", "--force-recreate", "--scale", f"web={REPLICAS}")
    ports = project.ports()
    for port in ports:
        wait_http(port, "/health", 60)
    # Warm gtui's imports before timing (the first run pays for .pyc files).
    gtui("snapshot", f"{project.name}/web", "--json")
    clients = [hey(port, seconds, rate) for port in ports]
    time.sleep(ACTION_AT_S)
    roll_s: float | None = None
    served_s: float | None = None
    started = time.monotonic()
    if action == ["compose"]:
        project.write(45)
        project.compose("up", "-d", "--scale", f"web={REPLICAS}")
        roll_s = time.monotonic() - started
    elif action is not None:
        out = gtui("retune", f"{project.name}/web", *action, "--yes", "--discard-changes", "--json")
        roll_s = time.monotonic() - started
        served = [r["outcome"]["served_after_s"] for r in json.loads(out)["replicas"]]
        served_s = sum(value for value in served if value is not None)
    requests = failed = 0
    for client in clients:
        output, _ = client.communicate(timeout=seconds + 60)
        r, f, _ = parse_hey(output)
        requests += r
        failed += f
    return RollResult(requests, failed, roll_s, served_s)


def longest_gap(port: int, stop: threading.Event, result: list[float], failures: list[int]) -> None:
    last_ok = time.monotonic()
    gap = 0.0
    with httpx.Client(timeout=0.5) as client:
        while not stop.is_set():
            try:
                ok = client.get(f"http://127.0.0.1:{port}/health").status_code == 200
            except httpx.HTTPError:
                ok = False
            now = time.monotonic()
            if ok:
                gap = max(gap, now - last_ok)
                last_ok = now
            else:
                failures[0] += 1
                time.sleep(0.01)
    result.append(max(gap, time.monotonic() - last_ok))


def bridge_once(client: docker.DockerClient, network: str, how: str) -> tuple[float, int]:
    port = free_port()
    name = f"gtui-bench-bridge-{port}"
    container = client.containers.run(
        GUNICORN_LATEST,
        ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "--timeout", "30", "app:app"],
        name=name,
        network=network,
        ports={"8000/tcp": ("127.0.0.1", port)},
        labels={**owner_labels(), "gtui-bench": "shapes"},
        detach=True,
    )
    try:
        wait_http(port, "/health", 60)
        gtui("snapshot", name, "--json")
        stop = threading.Event()
        result: list[float] = []
        failures = [0]
        prober = threading.Thread(target=longest_gap, args=(port, stop, result, failures))
        prober.start()
        time.sleep(1.0)
        if how == "gtui":
            gtui("retune", name, "--timeout", "45", "--yes", "--discard-changes")
        else:
            container.restart(timeout=10)
        wait_http(port, "/health", 60)
        time.sleep(1.0)
        stop.set()
        prober.join()
        return result[0], failures[0]
    finally:
        for leftover in client.containers.list(all=True, filters={"name": name}):
            leftover.remove(force=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--rate", type=int, default=40, help="requests/s per replica")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    for tool in ("hey", "docker-compose"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed", file=sys.stderr)
            return 2
    client = docker.from_env()
    print(
        f"load: hey, {args.rate} req/s per replica x {REPLICAS} replicas for {args.seconds:.0f} s"
        f"; action at {ACTION_AT_S:.0f} s; medians of {args.repeats}"
    )
    scenarios: list[tuple[str, list[str] | None]] = [
        ("no action (baseline)", None),
        ("gtui HUP roll (--max-requests 1000)", ["--max-requests", "1000"]),
        ("gtui re-create roll (--timeout 45)", ["--timeout", "45"]),
        ("compose up --force-recreate (baseline)", ["compose"]),
    ]
    with tempfile.TemporaryDirectory(prefix="gtui-bench-") as directory:
        project = Project(Path(directory))
        try:
            print(f"{'scenario':42} {'requests':>9} {'failed':>7} {'roll s':>7} {'served s':>8}")
            for label, action in scenarios:
                runs = [
                    roll_once(project, action, args.seconds, args.rate) for _ in range(args.repeats)
                ]
                requests = statistics.median(r.requests for r in runs)
                failed = statistics.median(r.failed for r in runs)
                rolls = [r.roll_s for r in runs if r.roll_s is not None]
                roll = f"{statistics.median(rolls):7.2f}" if rolls else "      -"
                served = [r.served_s for r in runs if r.served_s is not None]
                serve = f"{statistics.median(served):8.2f}" if served else "       -"
                print(f"{label:42} {requests:9.0f} {failed:7.0f} {roll} {serve}")
        finally:
            subprocess.run(
                ["docker-compose", "-p", project.name, "-f", str(project.file), "down", "-t", "2"],
                cwd=directory,
                capture_output=True,
                check=False,
            )
    network = f"gtui-bench-net-{uuid.uuid4().hex[:8]}"
    client.networks.create(network, driver="bridge", labels=owner_labels())
    try:
        title = "bridge container, published on 127.0.0.1"
        print(f"\n{title:42} {'longest gap s':>13} {'failed probes':>14}")
        results: dict[str, tuple[float, float]] = {}
        for how, label in (
            ("gtui", "gtui retune (re-create)"),
            ("restart", "docker restart (baseline)"),
        ):
            gaps = [bridge_once(client, network, how) for _ in range(args.repeats)]
            gap = statistics.median(r[0] for r in gaps)
            failed = statistics.median(r[1] for r in gaps)
            results[how] = (gap, failed)
            print(f"{label:42} {gap:13.2f} {failed:14.0f}")
        ratio = (
            results["gtui"][0] / results["restart"][0] if results["restart"][0] else float("nan")
        )
        print(f"gtui re-create gap / docker restart gap: {ratio:.2f} (goal: gap <= 2 s)")
    finally:
        client.networks.get(network).remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())

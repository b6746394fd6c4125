"""What a remote host costs: bytes over SSH, CPU on both ends, time to a full first frame.

Targets (issue 13), per remote host at 1 Hz with 1 container of 8 workers:
at most 3 KB/s over SSH, at most 1% of a core on the remote end; and a full
first frame (CPU of every worker of both hosts) within 2 s with two remote
hosts.

"Remote hosts" are second dockerds on this machine, each behind its own
sshd on 127.0.0.1 (tests/harness/remote_hosts.py), reached as ``ssh://hostb``
and ``ssh://hostc`` through the system ssh. Run from the repository root as
root (a second dockerd needs it):

    python benchmarks/remote_cost.py                  # 30 s windows, 3 repeats (~6 min)
    python benchmarks/remote_cost.py --seconds 10 --repeats 1

For each mode (``agent``: ``gtui agent`` runs on host B over the SSH
connection; ``api``: no gtui there, sampling through B's Docker API) a
``gtui watch --jsonl --interval 1`` on ``hostb/CONTAINER`` runs for a
window, after a warm-up, and the script reads:

- bytes over SSH: both directions of the TCP connections to B's sshd port,
  from the kernel's counters (``ss -tin``: bytes_acked, bytes_received),
  SSH framing and encryption included;
- remote CPU: everything B's sshd runs (session processes, the agent,
  ``docker system dial-stdio``), plus B's dockerd beyond its idle baseline;
- local CPU: the watching gtui and its ssh processes.

The first frame is timed in process: from ``Monitor.open`` with both remote
hosts until a sample holds both instances with every worker's CPU, against
the same with the two engines' unix sockets (no SSH) as the baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import docker
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import free_port
from gunicorn_tui.access.endpoints import resolve_endpoints
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.harness.containers import ContainerFactory
from tests.harness.remote_hosts import SecondEngine, SshServer

IMAGE = "gtui-test/gunicorn:latest"
WARMUP_S = 8.0
WITH_GTUI = f"{sys.executable} -m gunicorn_tui"


def ssh_bytes(port: int) -> int:
    """Bytes both ways on established TCP connections to 127.0.0.1:``port``."""
    out = subprocess.run(
        ["ss", "-tinH", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    sent = sum(int(n) for n in re.findall(r"bytes_acked:(\d+)", out))
    received = sum(int(n) for n in re.findall(r"bytes_received:(\d+)", out))
    return sent + received


def tree_cpu_s(root: psutil.Process, *, include_root: bool = True) -> float:
    total = 0.0
    try:
        processes = root.children(recursive=True) + ([root] if include_root else [])
    except psutil.Error:
        return 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            continue
    return total


class Tree:
    """CPU of a process tree over a window (processes that came and went
    meanwhile are counted through their parents' children times)."""

    def __init__(self, root: psutil.Process, include_root: bool = True) -> None:
        self.root, self.include_root = root, include_root

    def read(self) -> float:
        cpu = tree_cpu_s(self.root, include_root=self.include_root)
        try:
            children = self.root.cpu_times()
            cpu += children.children_user + children.children_system
        except psutil.Error:
            pass
        return cpu


def start_host(alias: str, source: docker.DockerClient) -> tuple[SecondEngine, SshServer]:
    engine = SecondEngine((IMAGE,), source)
    try:
        sshd = SshServer(alias, {"DOCKER_HOST": engine.url})
    except BaseException:
        engine.close()
        raise
    return engine, sshd


def gunicorn(factory: ContainerFactory, workers: int) -> str:
    port = free_port()
    container = factory.start(
        IMAGE, ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers), "app:app"]
    )
    factory.wait_http(container, port)
    return str(container.name)


def window(
    mode: str, sshd: SshServer, engine: SecondEngine, name: str, seconds: float
) -> dict[str, float]:
    env = dict(os.environ)
    env["GTUI_REMOTE_GTUI"] = WITH_GTUI if mode == "agent" else "/nonexistent/gtui"
    watch = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "watch", "--jsonl", "--interval", "1",
         "--statsd", "off", "-H", f"ssh://{sshd.alias}", f"{sshd.alias}/{name}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert sshd._process is not None
    remote = Tree(psutil.Process(sshd._process.pid), include_root=False)
    dockerd = Tree(psutil.Process(engine._process.pid))
    local = Tree(psutil.Process(watch.pid))
    try:
        time.sleep(WARMUP_S)
        start = (
            time.monotonic(),
            ssh_bytes(sshd.port),
            remote.read(),
            dockerd.read(),
            local.read(),
        )
        time.sleep(seconds)
        end = (time.monotonic(), ssh_bytes(sshd.port), remote.read(), dockerd.read(), local.read())
        assert watch.poll() is None, "gtui watch ended early"
    finally:
        watch.terminate()
        watch.wait(timeout=20)
    took = end[0] - start[0]
    return {
        "bytes_per_s": (end[1] - start[1]) / took,
        "remote_cpu_pct": (end[2] - start[2]) / took * 100,
        "dockerd_cpu_pct": (end[3] - start[3]) / took * 100,
        "local_cpu_pct": (end[4] - start[4]) / took * 100,
    }


def idle_dockerd(engine: SecondEngine, seconds: float) -> float:
    tree = Tree(psutil.Process(engine._process.pid))
    before, started = tree.read(), time.monotonic()
    time.sleep(seconds)
    return (tree.read() - before) / (time.monotonic() - started) * 100


def first_frame_s(urls: list[str], targets: list[str], workers: int) -> float:
    os.environ["GTUI_REMOTE_GTUI"] = WITH_GTUI
    started = time.monotonic()
    monitor = Monitor(
        MonitorOptions(
            targets=tuple(parse_target(t) for t in targets),
            engines=resolve_endpoints(urls),
            collect_traffic=False,
            statsd_address=None,
        )
    )
    try:
        monitor.open(wait_for_docker_s=10)
        deadline = started + 60
        while time.monotonic() < deadline:
            frame = monitor.sample()
            full = [
                s for s in frame.instances
                if len(s.workers) == workers
                and all(w.process.cpu_percent is not None for w in s.workers)
            ]  # fmt: skip
            if len(full) == len(targets):
                return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError("no full first frame in 60 s")
    finally:
        monitor.close()


def measure_windows(
    args: argparse.Namespace, engine_b: SecondEngine, sshd_b: SshServer, name: str
) -> None:
    """The agent and API-only windows on host B, and their medians."""
    idle = idle_dockerd(engine_b, min(args.seconds, 10))
    print(f"host B's dockerd idle: {idle:.2f}% of a core")
    results: dict[str, list[dict[str, float]]] = {"agent": [], "api": []}
    for repeat in range(args.repeats):
        for mode in ("agent", "api"):
            got = window(mode, sshd_b, engine_b, name, args.seconds)
            got["dockerd_cpu_pct"] -= idle
            results[mode].append(got)
            print(f"  repeat {repeat + 1} {mode}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in got.items()), flush=True)  # fmt: skip
    print(f"\nper remote host at 1 Hz, 1 container of {args.workers} workers "
          f"(medians of {args.repeats} x {args.seconds:g} s):")  # fmt: skip
    median = {mode: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
              for mode, rows in results.items()}  # fmt: skip
    for mode in ("agent", "api"):
        m = median[mode]
        print(f"  {mode:5}: {m['bytes_per_s']:7.0f} B/s over SSH (goal <= 3072), remote "
              f"{m['remote_cpu_pct']:.2f}% + dockerd {m['dockerd_cpu_pct']:.2f}% of a core "
              f"(goal <= 1%), local {m['local_cpu_pct']:.2f}%")  # fmt: skip
    ratio = median["agent"]["bytes_per_s"] / max(1.0, median["api"]["bytes_per_s"])
    print(f"  agent / api bytes: {ratio:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--first-frame-only", action="store_true", help="skip the windows (bytes, CPU)"
    )
    args = parser.parse_args()
    source = docker.from_env()
    hosts: list[tuple[SecondEngine, SshServer]] = []
    factories: list[ContainerFactory] = []
    saved_path = os.environ["PATH"]
    try:
        for alias in ("hostb", "hostc"):
            print(f"starting {alias}: a second dockerd behind its own sshd", flush=True)
            hosts.append(start_host(alias, source))
        # Both aliases in one client config: a wrapper per host, first on PATH.
        combined = Path(hosts[0][1].dir) / "both_config"
        combined.write_text("".join(h[1].client_config.read_text() for h in hosts))
        wrapper = hosts[0][1].bin_dir / "ssh"
        wrapper.write_text(
            wrapper.read_text().replace(str(hosts[0][1].client_config), str(combined))
        )
        os.environ["PATH"] = f"{hosts[0][1].bin_dir}{os.pathsep}{saved_path}"
        names = []
        for engine, _ in hosts:
            factory = ContainerFactory(engine.client)
            factories.append(factory)
            names.append(gunicorn(factory, args.workers))
        engine_b, sshd_b = hosts[0]

        if not args.first_frame_only:
            measure_windows(args, engine_b, sshd_b, names[0])

        targets = [f"{sshd.alias}/{name}" for (_, sshd), name in zip(hosts, names, strict=True)]
        far, near = [], []
        for _ in range(args.repeats):
            far.append(first_frame_s([f"ssh://{h[1].alias}" for h in hosts], targets, args.workers))
            near.append(first_frame_s([h[0].url for h in hosts], names, args.workers))
        print(f"\nfull first frame, two remote hosts: {statistics.median(far):.2f} s over SSH "
              f"(goal <= 2 s), {statistics.median(near):.2f} s through their unix sockets "
              f"(ratio {statistics.median(far) / statistics.median(near):.2f})")  # fmt: skip
    finally:
        os.environ["PATH"] = saved_path
        for factory in factories:
            factory.close()
        for engine, sshd in hosts:
            sshd.close()
            engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

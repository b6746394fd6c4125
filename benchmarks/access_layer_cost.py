"""What the access layer's safety costs, beside the unsafe way measured in the same run.

Against a real Gunicorn started on 127.0.0.1 (the bundled demo app), each
measured ``--repeats`` times, interleaved, medians printed with the ratio:

1. one control-socket request (``show stats``): connecting by path through
   ``/proc/PID/root`` (the old way, which follows a planted symlink onto the
   host) against connecting through an ``O_PATH`` handle resolved inside the
   master's root at each connection (``RootedSocketTransport``);
2. one config-file read: ``open(/proc/PID/root/...)`` against the access
   layer's reader (pidfd pinning, ``openat2`` in the root, ``O_NONBLOCK``);
3. taking and releasing the target lock: the host-wide ``flock`` alone, and
   with the engine's lock container (create + remove on the Docker engine),
   when an engine answers.

The machine is shared: the load average is printed at start and end.

Run: ``python benchmarks/access_layer_cost.py [--repeats 300]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from gunicorn_tui.access.control_socket import UnixSocketTransport
from gunicorn_tui.access.proc_target import RootedSocketTransport
from gunicorn_tui.access.resolve import local_master_access
from gunicorn_tui.control.durability.target_lock import TargetLock
from gunicorn_tui.demo.server import start_demo_server


def _median_us(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def _pair(name: str, old: Callable[[], object], new: Callable[[], object], repeats: int) -> None:
    # Interleaved in rounds so drift of the machine hits both alike.
    rounds = 5
    old_us, new_us = [], []
    for _ in range(rounds):
        old_us.append(_median_us(old, repeats // rounds))
        new_us.append(_median_us(new, repeats // rounds))
    a, b = statistics.median(old_us), statistics.median(new_us)
    print(f"{name:<38} {a:>10.1f} {b:>10.1f} {b / a:>7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    server = start_demo_server(workers=2)
    try:
        pid = server.pid
        socket_path = server.runtime_dir / "gunicorn.ctl"
        deadline = time.monotonic() + 15
        while not socket_path.exists():
            if time.monotonic() > deadline:
                raise SystemExit("the demo server opened no control socket")
            time.sleep(0.1)
        access = local_master_access(pid, None)
        by_path = UnixSocketTransport(f"/proc/{pid}/root{socket_path}", timeout_s=2.0)
        rooted = access.control_transport(str(socket_path), timeout_s=2.0)
        assert isinstance(rooted, RootedSocketTransport)
        config = Path(server.cwd) / "bench.conf.py"
        config.write_text("workers = 2\n")
        reader = access.config_reader()

        def read_by_path() -> bytes:
            with open(f"/proc/{pid}/root{config}", "rb") as handle:
                return handle.read()

        print(f"{'median, microseconds':<38} {'old way':>10} {'access':>10} {'ratio':>8}")
        _pair(
            "control request (show stats)",
            lambda: by_path.request(["show stats"]),
            lambda: rooted.request(["show stats"]),
            args.repeats,
        )
        _pair("config file read", read_by_path, lambda: reader(str(config)), args.repeats)
        rooted.close()
        config.unlink()

        locks = Path(tempfile.mkdtemp(prefix="gtui-bench-locks-"))

        def host_lock() -> None:
            lock = TargetLock(locks, f"bench-{os.getpid()}", "bench")
            lock.acquire()
            lock.release()

        print(f"{'target lock, host flock only':<38} {'':>10} {_median_us(host_lock, 200):>10.1f}")
        shutil.rmtree(locks, ignore_errors=True)
        _engine_lock(args.repeats)
    finally:
        server.stop()
    print(f"load average at end: {os.getloadavg()}")


def _engine_lock(repeats: int) -> None:
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as error:  # no engine here: say so, measure the rest
        print(f"engine lock: not measured ({error})")
        return
    from gunicorn_tui.access.docker_engine import DockerEngine

    images = client.images.list()
    if not images:
        print("engine lock: not measured (the engine has no image)")
        return
    name = f"gtui-bench-lock-{uuid.uuid4().hex[:8]}"
    target = client.api.create_container(images[0].id, name=name, command=["true"])
    try:
        engine = DockerEngine(client)
        inspect = engine.inspect(target["Id"])
        assert inspect is not None
        directory = Path(tempfile.mkdtemp(prefix="gtui-bench-locks-"))

        def both() -> None:
            lock = TargetLock(directory, name, "bench", engine=engine, inspect=inspect)
            lock.acquire()
            lock.release()

        median = _median_us(both, max(10, repeats // 10))
        print(f"{'target lock, flock + engine container':<38} {'':>10} {median:>10.1f}")
        shutil.rmtree(directory, ignore_errors=True)
    finally:
        client.api.remove_container(target["Id"], force=True)


if __name__ == "__main__":
    main()

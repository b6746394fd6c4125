"""Helpers for tests against real servers: sampling, gunicorn containers,
plain host servers, and a stoppable Docker socket forwarder."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
import psutil
from docker.models.containers import Container

from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sampling.local_instance import LaunchRecord
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import SAMPLE_APP_DIR
from tests.harness.loopback import free_port, wait_http

CONTROL_SOCKET = "/root/.gunicorn/gunicorn.ctl"


def sample_of(
    target: str,
    *,
    force_api: bool = False,
    launched: Sequence[LaunchRecord] = (),
    workers: int | None = None,
    control_socket: bool = False,
    timeout_s: float = 20.0,
) -> InstanceSample:
    """One settled sample of the single Gunicorn master in ``target``.

    Waits until the master is found (with ``workers`` workers when given),
    its runtime probe has answered and, with ``control_socket``, its control
    socket is known (Gunicorn opens it a moment after the workers; a plan
    made before then would rightly use signals).
    """
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(target),), force_api=force_api, launched=tuple(launched)
        )
    )
    monitor.open()
    try:
        deadline = time.monotonic() + timeout_s
        last = "nothing sampled"
        while True:
            monitor.sample()
            time.sleep(0.2)
            monitor.wait_for_probes(10)
            frame = monitor.sample()
            if len(frame.instances) == 1:
                found = frame.instances[0]
                socket_ok = found.control_socket is not None or not control_socket
                if (workers is None or len(found.workers) == workers) and socket_ok:
                    return found
                last = f"{len(found.workers)} workers, control socket {found.control_socket}"
            else:
                last = f"{len(frame.instances)} instances"
            if time.monotonic() > deadline:
                raise AssertionError(f"{target}: no settled sample ({last})")
            monitor.request_rescan()
    finally:
        monitor.close()


def gunicorn_container(
    factory: ContainerFactory,
    image: str,
    *args: str,
    port: int | None = None,
    **kwargs: Any,
) -> tuple[Container, int]:
    """A container running ``gunicorn ARGS -b 127.0.0.1:PORT app:app``, serving."""
    port = port or free_port()
    command = ["gunicorn", *args, "-b", f"127.0.0.1:{port}", "app:app"]
    container = factory.start(image, command, **kwargs)
    factory.wait_http(container, port)
    return container, port


def worker_count(container: Container) -> int:
    """Gunicorn workers in a container, counted by ``docker top`` (independent of gtui)."""
    top = container.top(ps_args="-eo pid,ppid,args")
    rows = top.get("Processes") or []
    masters = {row[0] for row in rows if "gunicorn: master" in row[2]}
    if not masters:  # untitled (no setproctitle): the gunicorn whose parent is not one
        gunicorns = {row[0]: row[1] for row in rows if "gunicorn" in row[2]}
        masters = {pid for pid, ppid in gunicorns.items() if ppid not in gunicorns}
    return sum(1 for row in rows if row[1] in masters and "gunicorn" in row[2])


def wait_worker_count(container: Container, wanted: int, timeout_s: float = 20.0) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        count = worker_count(container)
        if count == wanted or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def show_config(container: Container) -> dict[str, Any]:
    """``show config`` read with Gunicorn's own ``gunicornc`` inside the container."""
    import json

    result = container.exec_run(["gunicornc", "-s", CONTROL_SOCKET, "-c", "show config", "-j"])
    assert result.exit_code == 0 and isinstance(result.output, bytes), result.output
    output = result.output.decode()
    data: dict[str, Any] = json.loads(output[output.index("{") :])
    return data


def read_file(container: Container, path: str) -> str | None:
    result = container.exec_run(["cat", path])
    if result.exit_code != 0 or not isinstance(result.output, bytes):
        return None
    return result.output.decode()


def serves(port: int) -> bool:
    """True when 127.0.0.1:PORT answers HTTP."""
    try:
        wait_http(port, "/health", timeout_s=0.5)
    except TimeoutError:
        return False
    return True


def run_gtui(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``python -m gunicorn_tui ARGS`` from this checkout, output captured."""
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", *args],
        env={**os.environ, "PYTHONPATH": str(root), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


# -- plain host servers ----------------------------------------------------------------------


class PlainServer:
    """A host Gunicorn started by a test: argv, env and cwd are known exactly."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        argv: list[str],
        env: dict[str, str],
        cwd: Path,
        port: int,
        log: Path,
    ) -> None:
        self.process = process
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.port = port
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def launch_record(self) -> LaunchRecord:
        return LaunchRecord(self.pid, tuple(self.argv), dict(self.env), str(self.cwd))


class PlainGunicornFactory:
    """Starts ``python -m gunicorn`` without --chdir, in its own directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.servers: list[PlainServer] = []
        self.extra_pids: list[int] = []

    def start(self, *args: str, titled: bool = True) -> PlainServer:
        """Serve the sample app; ``titled=False`` runs it as if setproctitle
        were not installed, so its command line and environment stay readable."""
        port = free_port()
        cwd = Path(self.base) / f"srv-{port}"
        cwd.mkdir(parents=True)
        log = cwd / "server.log"
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--pythonpath",
            str(SAMPLE_APP_DIR),
            "-b",
            f"127.0.0.1:{port}",
            *args,
            "sample_app:app",
        ]
        env = {**os.environ, "XDG_RUNTIME_DIR": str(cwd)}
        if not titled:
            shadow = cwd / "no-setproctitle"
            shadow.mkdir()
            (shadow / "setproctitle.py").write_text(
                'raise ImportError("setproctitle hidden for this test")\n'
            )
            env["PYTHONPATH"] = os.pathsep.join(
                [str(shadow), *filter(None, [os.environ.get("PYTHONPATH")])]
            )
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = PlainServer(process, argv, env, cwd, port, log)
        self.servers.append(server)

        def alive() -> None:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {log.read_text()[-2000:]}")

        wait_http(port, "/health", 20.0, check=alive)
        return server

    def adopt(self, pid: int | None) -> None:
        """A master gtui started for a test: stopped at teardown too."""
        if pid is not None:
            self.extra_pids.append(pid)

    def close(self) -> None:
        pids = [s.pid for s in self.servers if s.process.poll() is None] + self.extra_pids
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        psutil.wait_procs([p for p in _processes(pids)], timeout=10)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for server in self.servers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=5)


def _processes(pids: Sequence[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found


# -- a Docker socket forwarder that can go away ---------------------------------------------


class SocketForwarder:
    """Forwards a unix socket to /var/run/docker.sock until stopped.

    Stopping closes the listener, removes the socket file and cuts every
    open connection: to a client it looks like the daemon went away.
    """

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path = path
        self.target = target
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=15)

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        server.listen(64)
        self._server = server
        self._thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


# -- code another user can run --------------------------------------------------------------


def readable_by(uid: int, gid: int, *paths: Path) -> bool:
    """Whether ``uid`` can list every one of ``paths`` (checked with its file identity)."""
    from gunicorn_tui.host.fs_identity import as_file_user

    def check() -> bool:
        for path in paths:
            try:
                os.listdir(path)
            except OSError:
                return False
        return True

    return as_file_user(uid, gid, check)


def pythonpath_for(uid: int, gid: int, packages: Sequence[Path], into: Path) -> str:
    """A PYTHONPATH from which ``uid`` can import ``packages`` (directories on
    sys.path): these themselves when that user can read them, else copies in
    ``into`` (a checkout under /root is not readable by ``nobody``)."""
    if readable_by(uid, gid, *packages):
        return os.pathsep.join(str(p) for p in packages)
    import shutil

    copies = []
    for index, package in enumerate(packages):
        target = into / f"path-{index}"
        shutil.copytree(package, target, symlinks=True, ignore=shutil.ignore_patterns("*.pyc"))
        copies.append(str(target))
    for directory, _, files in os.walk(into):
        os.chmod(directory, 0o755)
        for name in files:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(directory, name), 0o644)
    return os.pathsep.join(copies)

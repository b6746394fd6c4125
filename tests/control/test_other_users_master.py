"""A host master of another user (``nobody``) whose directory and PYTHONPATH are booby-trapped.

``json.py`` and ``sitecustomize.py`` sit in the master's working directory,
which is also on its ``PYTHONPATH``: any Python started with the master's
environment, or in its directory, runs them. They log every run (uid, pid,
command) and leave a marker file when run as root. Watching the master
(``gtui ls``, ``snapshot``, ``advise``, the dashboard) and a restart gtui
refuses must never run them; a restart the operator allows explicitly runs
the master's code as ``nobody``, never as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.control.helpers import pythonpath_for, run_gtui
from tests.harness.local_gunicorn import SAMPLE_APP_DIR
from tests.harness.loopback import free_port, wait_http
from tests.harness.tmux import Tmux, installed_gtui

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs a server as nobody: needs root")

NOBODY = 65534
# An interpreter nobody may run (gtui's own may live under /root), with the
# test venv's packages (world-readable) for Gunicorn.
SYSTEM_PYTHON = "/usr/bin/python3"
SITE = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "gunicorn").is_dir())

TRAP = """\
import os, sys
_here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_here, "runs.log"), "a") as _log:
    _log.write(f"@NAME@ uid={os.getuid()} pid={os.getpid()} argv={sys.argv[:3]}\\n")
if os.getuid() == 0:
    open(os.path.join(_here, "RAN-AS-ROOT"), "w").write(" ".join(sys.argv))
"""
# json.py hands the real json module over after logging, so the server runs.
JSON_TAIL = """\
_saved = sys.path[:]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules["json"]
try:
    import json as _real
finally:
    sys.path[:] = _saved
sys.modules["json"] = _real
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
"""


@dataclass
class TrappedServer:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def marker(self) -> Path:
        return self.directory / "RAN-AS-ROOT"

    def runs(self) -> list[str]:
        log = self.directory / "runs.log"
        return log.read_text().splitlines() if log.exists() else []

    def assert_never_ran_as_root(self) -> None:
        assert not self.marker.exists(), f"target code ran as root: {self.marker.read_text()}"
        assert all(f"uid={NOBODY} " in line for line in self.runs()), self.runs()


def _masters_in(directory: Path) -> list[psutil.Process]:
    """Gunicorn masters working in ``directory`` (their workers are left out)."""
    found = []
    for process in psutil.process_iter(["cwd", "ppid"]):
        with contextlib.suppress(psutil.Error):
            if process.info["cwd"] == str(directory):
                found.append(process)
    pids = {process.pid for process in found}
    return [process for process in found if process.info["ppid"] not in pids]


@pytest.fixture
def trapped_server() -> Iterator[TrappedServer]:
    directory = Path(tempfile.mkdtemp(prefix="gtui-trap-", dir="/tmp"))
    directory.chmod(0o755)
    shutil.copy(SAMPLE_APP_DIR / "sample_app.py", directory / "sample_app.py")
    (directory / "sitecustomize.py").write_text(TRAP.replace("@NAME@", "sitecustomize"))
    (directory / "json.py").write_text(TRAP.replace("@NAME@", "json") + JSON_TAIL)
    # setproctitle would hide the command line (then no restart is possible at all).
    (directory / "setproctitle.py").write_text('raise ImportError("hidden for this test")\n')
    os.chown(directory, NOBODY, NOBODY)
    for path in directory.iterdir():
        os.chown(path, NOBODY, NOBODY)
    port = free_port()
    code = Path(tempfile.mkdtemp(prefix="gtui-trap-code-", dir="/tmp"))
    code.chmod(0o755)
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{directory}:{pythonpath_for(NOBODY, NOBODY, [Path(SITE)], code)}",
        "HOME": str(directory),
    }
    process = subprocess.Popen(
        [SYSTEM_PYTHON, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "sample_app:app"],
        cwd=directory,
        env=environment,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = TrappedServer(directory, port, process)
    try:
        wait_http(port, "/health", 20.0)
        # The server itself ran the traps (as nobody): that is its own business.
        assert server.runs(), "the traps are not on the server's path"
        server.assert_never_ran_as_root()
        yield server
    finally:
        for master in _masters_in(directory):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(master.pid, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        psutil.wait_procs(_masters_in(directory), timeout=10)
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(code, ignore_errors=True)


def test_watching_and_a_refused_restart_never_run_the_targets_code(
    trapped_server: TrappedServer, tmp_path: Path
) -> None:
    server = trapped_server
    target = f"pid:{server.process.pid}"
    env = {"GTUI_STATE_DIR": str(tmp_path / "state")}

    listed = run_gtui("ls", "--no-docker", target, env=env)
    assert listed.returncode == 0 and str(server.process.pid) in listed.stdout, listed.stderr
    snapshot = run_gtui("snapshot", "--no-docker", "--json", target, env=env)
    assert snapshot.returncode == 0, snapshot.stderr
    (instance,) = json.loads(snapshot.stdout)["instances"]
    assert instance["gunicorn_version"], "the version is read from the server's files"
    advice = run_gtui("advise", "--no-docker", "--duration", "2", target, env=env)
    assert advice.returncode == 0, advice.stdout + advice.stderr
    server.assert_never_ran_as_root()

    # The dashboard, in a real terminal, for a few refreshes.
    tmux = Tmux()
    try:
        tmux.run(
            "new-session", "-d", "-s", "dash", "-x", "120", "-y", "40",
            f"GTUI_STATE_DIR={tmp_path / 'state'} {installed_gtui()} --no-docker {target}",
        )  # fmt: skip
        tmux.wait_for("dash", lambda text: "sample_app" in text or "gunicorn" in text, 20)
        time.sleep(3)
        tmux.run("send-keys", "-t", "dash", "q")
    finally:
        tmux.close()
    server.assert_never_ran_as_root()

    # A restart of another user's master is refused unless explicitly allowed.
    refused = run_gtui(
        "retune", "--no-docker", target, "-w", "3", "--timeout", "40", "--restart", "--yes", env=env
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "runs as uid 65534" in refused.stdout and "--allow-other-user" in refused.stdout
    server.assert_never_ran_as_root()
    assert server.process.poll() is None


def test_an_allowed_restart_runs_the_masters_code_as_its_user(
    trapped_server: TrappedServer, tmp_path: Path
) -> None:
    server = trapped_server
    target = f"pid:{server.process.pid}"
    runs_before = len(server.runs())
    result = run_gtui(
        "retune",
        "--no-docker",
        target,
        "--workers",
        "3",
        "--timeout",
        "40",
        "--restart",
        "--allow-other-user",
        "--yes",
        env={"GTUI_STATE_DIR": str(tmp_path / "state")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the check and the new master run as uid 65534" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "the service runs the new config"
    server.assert_never_ran_as_root()
    # The check and the new master ran the traps, as nobody.
    assert len(server.runs()) > runs_before
    (master,) = [p for p in _masters_in(server.directory) if p.pid != server.process.pid]
    assert master.uids().real == NOBODY and master.gids().real == NOBODY
    wait_http(server.port, "/health", 10.0)


def test_a_config_file_the_master_cannot_read_is_never_replaced(
    trapped_server: TrappedServer, tmp_path: Path
) -> None:
    # Put there after the start by root, readable by root alone: the master's
    # user cannot read it, so gtui (reading as that user) cannot either, and
    # it counts as the operator's file.
    config = trapped_server.directory / "gunicorn.conf.py"
    config.write_text("timeout = 25\n")
    config.chmod(0o600)
    before = config.read_bytes(), config.stat().st_mode, config.stat().st_uid
    result = run_gtui(
        "retune", "--no-docker", f"pid:{trapped_server.process.pid}", "--timeout", "40",
        "--yes", env={"GTUI_STATE_DIR": str(tmp_path / "state")},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{config} is unreadable" in result.stdout
    assert (config.read_bytes(), config.stat().st_mode, config.stat().st_uid) == before
    assert not (trapped_server.directory / "gunicorn.gtui-candidate.py").exists()
    trapped_server.assert_never_ran_as_root()

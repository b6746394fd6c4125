"""Drive a real Gunicorn through the worker life events its error log tells.

One run: boot two workers, add one (TTIN), remove one (TTOU), SIGKILL one,
let one time out on a slow request, recycle one by max-requests, reload
(HUP), stop (TERM). A second run fails to boot (an app that cannot be
imported). Used by the live test and by ``capture_error_logs.py``, which
keeps the output of other Gunicorn versions as data files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.traffic.live_gunicorn import SAMPLE_APP_DIR, free_port


@dataclass
class ScenarioPids:
    """What the scenario did, to check the parsed events against."""

    master: int
    killed_worker: int  # sent SIGKILL
    timed_out_worker: int  # answered nothing within --timeout
    stopped_by_ttou: int


def _get(url: str, timeout_s: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            response.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        pass


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def _wait(condition: object, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise TimeoutError("scenario step did not happen in time")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:  # not created yet
        return ""


def run_life_scenario(
    error_log: Path,
    python: str = sys.executable,
    pythonpath: Sequence[str] = (),
    extra_args: Sequence[str] = (),
) -> ScenarioPids:
    """Run the worker-life scenario; the error log is written to ``error_log``."""
    port = free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    command = [
        python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--timeout", "2", "--graceful-timeout", "2", "--max-requests", "4",
        "--chdir", str(SAMPLE_APP_DIR), "--error-logfile", str(error_log),
        *extra_args, "sample_app:app",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    master = process.pid
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _read(error_log).count("Booting worker") >= 2)
        os.kill(master, signal.SIGTTIN)
        _wait(lambda: _read(error_log).count("Booting worker") >= 3 and len(_workers(master)) == 3)
        before = _workers(master)
        os.kill(master, signal.SIGTTOU)
        _wait(lambda: len(_workers(master)) == 2)
        stopped_by_ttou = (set(before) - set(_workers(master))).pop()
        killed = _workers(master)[0]
        os.kill(killed, signal.SIGKILL)
        _wait(lambda: killed not in _workers(master) and len(_workers(master)) == 2)
        boots = _read(error_log).count("Booting worker")
        # A sync worker busy for 4 s with --timeout 2 is aborted by the master.
        _get(url + "/io?ms=4000", timeout_s=8)
        _wait(lambda: "WORKER TIMEOUT" in _read(error_log))
        timed_out = int(_read(error_log).split("WORKER TIMEOUT (pid:")[1].split(")")[0])
        _wait(lambda: _read(error_log).count("Booting worker") > boots)
        for _ in range(10):  # --max-requests 4 recycles at least one worker
            _get(url + "/fast", timeout_s=5)
        _wait(lambda: "Autorestarting worker" in _read(error_log))
        boots = _read(error_log).count("Booting worker")
        os.kill(master, signal.SIGHUP)
        _wait(lambda: _read(error_log).count("Booting worker") >= boots + 2)
        time.sleep(0.5)
        os.kill(master, signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    return ScenarioPids(master, killed, timed_out, stopped_by_ttou)


def run_boot_failure(
    error_log: Path, python: str = sys.executable, pythonpath: Sequence[str] = ()
) -> int:
    """Start Gunicorn on an app that cannot be imported; returns its exit code."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    command = [
        python, "-m", "gunicorn", "--bind", f"127.0.0.1:{free_port()}", "--workers", "1",
        "--chdir", str(SAMPLE_APP_DIR), "--error-logfile", str(error_log),
        "no_such_module_for_gtui:app",
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )
    return completed.returncode

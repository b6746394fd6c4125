"""The access layer's processes and host commands, against real processes.

A pid pinned with its start time is never signalled once it names another
process; a host master's command runs as its user, with its environment only,
in its directory entered after the identity change, and without a terminal.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gunicorn_tui.access.errors import AccessRefused, TargetChanged, TargetGone
from gunicorn_tui.access.host_commands import RunAs, run_as_master
from gunicorn_tui.access.processes import (
    ProcessRef,
    is_running,
    process_ref,
    send_signal,
    wait_gone,
)

NOBODY = RunAs(65534, 65534)
# An interpreter every user may run (gtui's own may live under /root).
SYSTEM_PYTHON = "/usr/bin/python3"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_pid_that_names_another_process_is_never_signalled(
    sleeper: subprocess.Popen[bytes],
) -> None:
    real = process_ref(sleeper.pid)
    assert real.start_ticks is not None
    # The same pid with another start time: what a plan holds once its
    # process exited and the pid was given to a new one.
    stale = ProcessRef(sleeper.pid, real.start_ticks - 1)
    with pytest.raises(TargetChanged, match="another process"):
        send_signal(stale, signal.SIGTERM)
    assert not is_running(stale)
    assert sleeper.poll() is None, "the unrelated process was signalled"
    send_signal(real, signal.SIGTERM)
    assert wait_gone(real, 5.0)
    assert not is_running(real)
    with pytest.raises(TargetGone):
        send_signal(real, signal.SIGTERM)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory every user may enter (tmp_path's parents are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="gtui-access-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


REPORT = (
    "import json, os, sys; print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), "
    "'groups': os.getgroups(), 'cwd': os.getcwd(), 'env': dict(os.environ), "
    "'tty': os.isatty(0), 'sid': os.getsid(0) == os.getpid()}))"
)


@needs_root
def test_a_command_runs_as_the_master_with_its_environment_only(world_dir: Path) -> None:
    import json

    result = run_as_master(
        [SYSTEM_PYTHON, "-I", "-c", REPORT],
        environment={"APP_MODE": "production", "PATH": "/usr/bin:/bin"},
        cwd=str(world_dir),
        run_as=NOBODY,
    )
    assert result.exit_code == 0, result.output
    seen = json.loads(result.output.strip().splitlines()[-1])
    assert (seen["uid"], seen["gid"]) == (65534, 65534)
    assert seen["groups"] == []  # none of root's supplementary groups
    assert seen["cwd"] == str(world_dir)
    # Exactly the master's environment: nothing of gtui's (HOME, GTUI_*, ...).
    assert {k: v for k, v in seen["env"].items() if k != "LC_CTYPE"} == {
        "APP_MODE": "production",
        "PATH": "/usr/bin:/bin",
    }
    assert not seen["tty"] and seen["sid"]  # no terminal to push keystrokes into


@needs_root
def test_the_directory_is_entered_as_the_master_not_as_root(world_dir: Path) -> None:
    # A directory only root may enter, reached through a symlink the user planted.
    private = Path(tempfile.mkdtemp(prefix="gtui-private-", dir="/tmp"))
    try:
        private.chmod(0o700)
        (private / "secret").write_text("root only")
        link = world_dir / "app"
        os.symlink(private, link)
        result = run_as_master(
            [SYSTEM_PYTHON, "-I", "-c", "print(open('secret').read())"],
            environment={},
            cwd=str(link),
            run_as=NOBODY,
        )
        assert result.exit_code == 126, result.output
        assert "cannot enter" in result.output and "root only" not in result.output
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_another_users_command_is_refused_without_the_privilege_to_switch() -> None:
    if os.geteuid() == 0:
        pytest.skip("root may switch users; the refusal is for other users")
    with pytest.raises(AccessRefused):
        run_as_master(["true"], environment={}, cwd="/", run_as=NOBODY)


def test_a_command_that_does_not_finish_is_stopped(world_dir: Path) -> None:
    me = RunAs(os.getuid(), os.getgid())
    started = time.monotonic()
    with pytest.raises(Exception, match="did not finish"):
        run_as_master(
            ["sleep", "30"], environment={"PATH": "/usr/bin:/bin"}, cwd="/", run_as=me, timeout_s=1
        )
    assert time.monotonic() - started < 10

"""A real terminal for the installed ``gtui``: tmux on a private socket."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.harness.docker_access import docker_required


def installed_gtui() -> str:
    """The console script installed next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "gtui"
    if beside.exists():
        return str(beside)
    found = shutil.which("gtui")
    if found is None:
        message = "the gtui console script is not installed (pip install -e .)"
        if docker_required():
            pytest.fail(message)
        pytest.skip(message)
    return found


class Tmux:
    """One tmux server on a private socket, so tests never touch others'."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is not installed") if docker_required() else pytest.skip("no tmux")
        self.socket = f"gtui-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=10,
        )

    def screen(self, session: str) -> str:
        return self.run("capture-pane", "-t", session, "-p").stdout

    def wait_for(self, session: str, predicate: Callable[[str], bool], timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(session)
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"screen never matched within {timeout_s}s:\n{text}")

    def alive(self, session: str) -> bool:
        return self.run("has-session", "-t", session, check=False).returncode == 0

    def close(self) -> None:
        self.run("kill-server", check=False)

"""Run gtui, and kill it with SIGKILL right after step K of its action is journaled.

``python -m tests.harness.crash_after_step K ARGS...`` runs ``gtui ARGS...``
(the real CLI, in this process) and, once the executor has journaled step K
(K=0: once the journal is first written, before the first step), the process
kills itself: a real crash, no clean-up, no Python exception handlers. The
recovery tests use it to interrupt an action at every step; the hook lives
here, not in gtui's code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from gunicorn_tui.cli.main import main
from gunicorn_tui.control.durability.journal import Journal
from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.running.executor import PlanExecutor
from gunicorn_tui.control.running.progress import ActionOutcome


def _crash() -> NoReturn:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("SIGKILL did not end the process")


def arm(patch: pytest.MonkeyPatch, steps_done: int) -> None:
    """Crash once ``steps_done`` steps are journaled (0: before the first step)."""
    if steps_done == 0:
        # The engine writes the journal before it hands the plan to the executor.
        def crash_before_first_step(
            self: PlanExecutor, plan: RetunePlan, journal: Journal
        ) -> ActionOutcome:
            _crash()

        patch.setattr(PlanExecutor, "execute", crash_before_first_step)
        return
    step_done = Journal.step_done

    def step_done_then_crash(self: Journal, index: int, detail: str) -> None:
        step_done(self, index, detail)
        if index + 1 == steps_done:
            _crash()

    patch.setattr(Journal, "step_done", step_done_then_crash)


def run_crashing_gtui(
    steps_done: int, *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """``gtui ARGS`` from this checkout in a child process that crashes (SIGKILL)
    once ``steps_done`` steps are journaled; its output captured."""
    environment = {**os.environ, **(env or {})}
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = os.pathsep.join(
        [root, *filter(None, [environment.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-m", "tests.harness.crash_after_step", str(steps_done), *args],
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


if __name__ == "__main__":
    arm(pytest.MonkeyPatch(), int(sys.argv[1]))
    raise SystemExit(main(sys.argv[2:]))

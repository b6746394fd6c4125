"""py-spy, run as a separate program on a worker's host pid.

py-spy reads the target's memory with ptrace (``process_vm_readv``); nothing
of the target runs in our process. It works for workers in containers too,
by their host pid, when gtui runs as root on the host. Its PyPI wheel ships
the binary (``pip install 'gunicorn-tui[inspect]'``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gunicorn_tui.output.escape import escape_controls

DUMP_TIMEOUT_S = 20.0
# py-spy's own words when ptrace is refused, and what the kernel says.
_DENIED = ("permission denied", "operation not permitted", "eperm", "ptrace")

PTRACE_ADVICE = (
    "ptrace is not allowed: run gtui as root (sudo), or as the worker's user with "
    "kernel.yama.ptrace_scope = 0 (sysctl); inside a container gtui needs CAP_SYS_PTRACE "
    "(docker run --cap-add SYS_PTRACE)"
)


class PySpyError(Exception):
    """py-spy could not look at the process: one line to show the user."""


class PySpyMissing(PySpyError):
    """No py-spy program."""


class PySpyDenied(PySpyError):
    """The kernel refused ptrace."""


@dataclass(frozen=True)
class StackDump:
    """What ``py-spy dump`` printed for one process, made printable: the
    target's file and function names (and locals) are its own text, so a
    control character in them is shown as ``\\x1b``, never sent to a terminal."""

    pid: int
    text: str


def printable(text: str) -> str:
    """``text`` with control and format characters escaped, lines kept."""
    return escape_controls(text, keep_newlines=True)


def find_py_spy() -> str:
    """The py-spy program: beside this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("py-spy")
    if found is None:
        raise PySpyMissing(
            "py-spy is not installed: pip install 'gunicorn-tui[inspect]' (or pip install py-spy)"
        )
    return found


def classify_failure(pid: int, completed: subprocess.CompletedProcess[str]) -> PySpyError:
    # py-spy's message is its "Error: ..." line; a backtrace may follow it.
    lines = printable(completed.stderr or completed.stdout).strip().splitlines()
    errors = [line.removeprefix("Error:").strip() for line in lines if line.startswith("Error:")]
    last = errors[0] if errors else (lines[-1] if lines else f"exit {completed.returncode}")
    if any(word in (completed.stderr or "").lower() for word in _DENIED):
        return PySpyDenied(f"pid {pid}: {PTRACE_ADVICE} (py-spy: {last})")
    if "No such process" in (completed.stderr or ""):
        return PySpyError(f"pid {pid}: the process is gone")
    return PySpyError(f"pid {pid}: py-spy failed: {last}")


def dump_stack(pid: int, *, native: bool = False, with_locals: bool = False) -> StackDump:
    """The Python stack of every thread of ``pid``, as py-spy prints it."""
    command = [find_py_spy(), "dump", "--pid", str(pid)]
    if native:
        command.append("--native")
    if with_locals:
        command.append("--locals")
    completed = _run(pid, command, DUMP_TIMEOUT_S)
    if completed.returncode != 0:
        raise classify_failure(pid, completed)
    return StackDump(pid, printable(completed.stdout))


def _run(pid: int, command: list[str], timeout_s: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False,
            errors="replace",
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise PySpyError(f"pid {pid}: py-spy did not finish in {timeout_s:g} s") from None
    except OSError as error:
        raise PySpyMissing(f"py-spy cannot run: {error.strerror or error}") from None


def record_flame_graph(pid: int, output: Path, *, duration_s: float, rate_hz: int = 100) -> Path:
    """Sample ``pid`` for ``duration_s`` and write a flame graph (SVG) to
    ``output``. Idle frames are kept (a stuck worker waits), and the worker is
    not paused to be sampled."""
    seconds = str(max(1, round(duration_s)))
    command = [find_py_spy(), "record", "--pid", str(pid), "--duration", seconds,
               "--rate", str(rate_hz), "--format", "flamegraph", "--output", str(output),
               "--nonblocking", "--idle"]  # fmt: skip
    completed = _run(pid, command, duration_s + 60)
    if completed.returncode != 0 or not output.exists():
        raise classify_failure(pid, completed)
    return output

"""``gtui dump`` and ``gtui profile`` with py-spy, on a real sync worker stuck
in ``time.sleep`` inside a request, on the host and in a container."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from gunicorn_tui.demo import sample_app
from gunicorn_tui.worker_inspect.py_spy import (
    PySpyDenied,
    PySpyMissing,
    classify_failure,
    find_py_spy,
)
from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.harness.loopback import free_port
from tests.images import tags

SLEEP_LINE = next(
    number
    for number, line in enumerate(Path(sample_app.__file__).read_text().splitlines(), start=1)
    if "time.sleep(duration_ms" in line
)
# How py-spy names the frame: the function, the file and the line it is on.
STUCK_FRAME = re.compile(rf"\bapp \((?:\S*/)?(?:sample_app|app)\.py:{SLEEP_LINE}\)")


def _hold_a_request(url: str, seconds: float) -> threading.Thread:
    """A request that keeps its worker in time.sleep for ``seconds`` (bounded)."""

    def get() -> None:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/io?ms={int(seconds * 1000)}", timeout=seconds + 10)

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    time.sleep(1.0)  # accepted and asleep
    return thread


def test_dump_shows_the_frame_a_stuck_sync_worker_sleeps_in(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "1", "--timeout", "60")
    (worker,) = psutil.Process(server.pid).children()
    request = _hold_a_request(server.base_url, 8)
    done = run_gtui("dump", f"pid:{server.pid}", "--worker", str(worker.pid), "--no-docker",
                    "--statsd", "off")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"== worker {worker.pid} of" in done.stdout
    assert STUCK_FRAME.search(done.stdout), done.stdout
    request.join(15)


def test_dump_of_a_worker_in_a_container_by_host_pid(container_factory: ContainerFactory) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "60", "app:app"],
    )
    container_factory.wait_http(container, port)
    request = _hold_a_request(f"http://127.0.0.1:{port}", 8)
    done = run_gtui("dump", container.name or "", "--statsd", "off", "--json")
    assert done.returncode == 0, done.stderr
    import json

    document = json.loads(done.stdout)
    (worker,) = document["workers"]
    assert psutil.pid_exists(worker["pid"])  # a host pid
    assert STUCK_FRAME.search(worker["stack"]), worker["stack"]
    request.join(15)


def test_profile_writes_a_flame_graph(local_gunicorn: LocalGunicornFactory, tmp_path: Path) -> None:
    server = local_gunicorn.start("--workers", "1", "--timeout", "60")
    (worker,) = psutil.Process(server.pid).children()
    request = _hold_a_request(server.base_url, 6)
    output = tmp_path / "flame.svg"
    done = run_gtui("profile", f"pid:{server.pid}", "--worker", str(worker.pid),
                    "--duration", "2", "--output", str(output), "--no-docker",
                    "--statsd", "off")  # fmt: skip
    assert done.returncode == 0, done.stderr
    svg = output.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "sample_app.py" in svg or "app (" in svg
    request.join(15)


def test_a_pid_that_is_not_a_worker_is_one_line(local_gunicorn: LocalGunicornFactory) -> None:
    server = local_gunicorn.start("--workers", "1")
    other = run_gtui("dump", f"pid:{server.pid}", "--worker", "1", "--no-docker",
                     "--statsd", "off")  # fmt: skip
    assert other.returncode == 2
    assert "1 is not a worker of" in other.stderr and other.stderr.count("\n") == 1


def test_py_spy_missing_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PySpyMissing, match=r"pip install 'gunicorn-tui\[inspect\]'"):
        find_py_spy()


def test_ptrace_refused_is_explained() -> None:
    # A refused ptrace cannot be caused here without a second user able to
    # run this venv (tests run as root, whose ptrace is allowed), so py-spy's
    # own message for it is fed to the mapping.
    completed = subprocess.CompletedProcess(
        ["py-spy"], 1, "",
        "Error: Permission Denied: Try running again with elevated permissions by going "
        "'sudo env \"PATH=$PATH\" !!'\n",
    )  # fmt: skip
    error = classify_failure(4242, completed)
    assert isinstance(error, PySpyDenied)
    assert "pid 4242: ptrace is not allowed: run gtui as root" in str(error)
    assert "CAP_SYS_PTRACE" in str(error)


def test_the_targets_text_never_reaches_the_terminal_raw() -> None:
    # A hostile worker's file names and locals are its own text: escapes shown, not sent.
    from gunicorn_tui.worker_inspect.py_spy import printable

    assert printable("app (/srv/\x1b]0;owned\x07x.py:3)\n  ok é") == (
        "app (/srv/\\x1b]0;owned\\x07x.py:3)\n  ok é"
    )
    assert printable("\u202etxt.py") == "\\u202etxt.py"

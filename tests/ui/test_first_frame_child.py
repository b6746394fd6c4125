"""The first frame sampled by a forked child of ``gtui`` (issue 16): the same
figures as the frame sampled in-process, on a real Gunicorn; and the
dashboard started that way draws it and then goes on with its own monitor.

The child is forked from a fresh interpreter (as ``gtui`` forks it, before
any thread starts): pytest's process has threads of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.harness.local_gunicorn import LocalGunicornFactory

ROOT = Path(__file__).resolve().parents[2]

# argv: the master's pid. Prints both frames' figures as JSON.
_BOTH_WAYS = r"""
import json, sys, threading, time
from gunicorn_tui.cli.effective import apply_settings
from gunicorn_tui.cli.first_frame_child import FIRST_FRAME_AFTER_S, FirstFrameChild
from gunicorn_tui.cli.parser import build_parser, parse, with_command_word
from gunicorn_tui.cli.target_monitor import open_monitor
from gunicorn_tui.user_config.config_file import load_config

args = parse(build_parser(), with_command_word([f"pid:{sys.argv[1]}", "--no-docker"]))
args.settings = apply_settings(args, load_config(None))
threads_before = threading.active_count()
child = FirstFrameChild.start(args)
assert child is not None
from_child = child.frame(30)
monitor = open_monitor(args)
monitor.sample()
time.sleep(FIRST_FRAME_AFTER_S)
in_process = monitor.sample()
monitor.close()

def figures(frame):
    return [{
        "key": s.key, "master": s.master.pid, "config": repr(s.config),
        "version": s.gunicorn_version, "workers_target": s.workers_target,
        "workers": {str(w.process.pid): w.process.cpu_percent for w in s.workers},
        "rss": {str(w.process.pid): w.process.rss_bytes for w in s.workers},
    } for s in frame.instances]

print(json.dumps({
    "threads_before": threads_before,
    "child": figures(from_child) if from_child is not None else None,
    "in_process": figures(in_process),
}))
"""


def _booted(server_pid: int, workers: int) -> None:
    deadline = time.monotonic() + 30
    while len(psutil.Process(server_pid).children()) < workers:
        assert time.monotonic() < deadline, "workers did not boot"
        time.sleep(0.05)


def test_the_childs_first_frame_has_the_same_figures_as_one_sampled_in_process(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "3")
    _booted(server.pid, 3)
    done = subprocess.run(
        [sys.executable, "-c", _BOTH_WAYS, str(server.pid)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["threads_before"] == 1
    child, in_process = seen["child"], seen["in_process"]
    assert child is not None, "the child sent no frame"
    assert len(child) == len(in_process) == 1
    workers = {str(p.pid) for p in psutil.Process(server.pid).children()}
    for frame in (child, in_process):
        (sample,) = frame
        assert sample["master"] == server.pid
        assert set(sample["workers"]) == workers
        # Every worker has a CPU figure: two readings, FIRST_FRAME_AFTER_S apart.
        most = 100 * (psutil.cpu_count() or 1)
        assert all(cpu is not None and 0 <= cpu <= most for cpu in sample["workers"].values())
        assert all(rss and rss > 0 for rss in sample["rss"].values())
    # The same server seen the same way: key, config, version, worker target.
    for field in ("key", "config", "version", "workers_target"):
        assert child[0][field] == in_process[0][field], field


def test_a_child_that_cannot_sample_leaves_the_first_frame_to_the_parent(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    # A target that is gone by the time the child looks: the child sends
    # nothing, exits, is reaped, and the caller samples in-process (here it
    # fails in-process too, with the CLI's own error).
    script = (
        "import sys\n"
        "from gunicorn_tui.cli.first_frame_child import FirstFrameChild\n"
        "from gunicorn_tui.cli.parser import build_parser, parse, with_command_word\n"
        "args = parse(build_parser(), with_command_word(['pid:999999999', '--no-docker']))\n"
        "child = FirstFrameChild.start(args)\n"
        "assert child is not None\n"
        "print(child.frame(30))\n"
        "import os\n"
        "try:\n"
        "    os.waitpid(child.pid, os.WNOHANG)\n"
        "    print('not reaped')\n"
        "except ChildProcessError:\n"
        "    print('reaped')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "reaped"]


def test_a_child_abandoned_at_once_is_killed_and_reaped_without_a_wait(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    # The user quits before the first frame: the child is killed, the reader
    # sees the pipe's end at once, not after the child's time-out.
    server = local_gunicorn.start("--workers", "1")
    script = (
        "import os, sys, time\n"
        "from gunicorn_tui.cli.first_frame_child import FirstFrameChild\n"
        "from gunicorn_tui.cli.parser import build_parser, parse, with_command_word\n"
        f"args = parse(build_parser(), with_command_word(['pid:{server.pid}', '--no-docker']))\n"
        "child = FirstFrameChild.start(args)\n"
        "assert child is not None\n"
        "child.abandon()\n"
        "started = time.monotonic()\n"
        "print(child.frame(30), time.monotonic() - started < 10)\n"
        "try:\n"
        "    os.waitpid(child.pid, os.WNOHANG)\n"
        "    print('not reaped')\n"
        "except ChildProcessError:\n"
        "    print('reaped')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "True", "reaped"]

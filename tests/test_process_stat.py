"""``read_stat`` and ``ProcessFigures`` against real processes and psutil."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from gunicorn_tui.sampling.process_figures import FIRST_SAMPLE, ProcessFigures
from gunicorn_tui.sampling.procfs import ProcessGone, read_stat

# CPU times tick at 10 ms; allow a few ticks between two reads.
_TICK_SLACK_S = 0.05

_BUSY_SCRIPT = "import time\nend = time.time() + 3\nwhile time.time() < end:\n    pass\n"


def test_read_stat_agrees_with_psutil() -> None:
    process = psutil.Process()
    sum(range(2_000_000))  # some CPU time to compare
    stat = read_stat(os.getpid())
    times = process.cpu_times()
    rss = process.memory_info().rss
    assert abs(stat.cpu_time_s - (times.user + times.system)) <= _TICK_SLACK_S
    # A tight loop between the two reads may fault in a page or two.
    assert abs(stat.rss_bytes - rss) <= 64 * 1024
    boot = psutil.boot_time()
    started = boot + stat.start_ticks / os.sysconf("SC_CLK_TCK")
    assert abs(started - process.create_time()) < 1.0


def test_read_stat_of_a_reaped_process_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with pytest.raises(ProcessGone):
        read_stat(child.pid)


def test_figures_measure_a_busy_process_like_psutil() -> None:
    child = subprocess.Popen([sys.executable, "-c", _BUSY_SCRIPT])
    try:
        figures = ProcessFigures()
        watcher = psutil.Process(child.pid)
        first = figures.sample(child.pid)
        watcher.cpu_percent()
        assert first.cpu_percent is None
        assert first.unavailable["cpu_percent"] == FIRST_SAMPLE
        time.sleep(1.0)
        ours = figures.sample(child.pid)
        theirs = watcher.cpu_percent()
        assert ours.cpu_percent is not None
        # A busy loop gets what the (shared, loaded) machine leaves it: only
        # agreement with psutil, which reads the same ticks, is exact.
        assert ours.cpu_percent > 1.0
        assert abs(ours.cpu_percent - theirs) < 10.0
        assert ours.rss_bytes is not None and ours.rss_bytes > 1_000_000
        assert ours.age_s is not None and 0.5 < ours.age_s < 30.0
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ProcessGone):
        figures.sample(child.pid)

"""``read_stat`` and ``ProcessFigures`` against real processes and psutil."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from gunicorn_tui.host import procfs
from gunicorn_tui.host.procfs import ProcessGone, read_argv, read_environ, read_stat
from gunicorn_tui.sampling import process_figures
from gunicorn_tui.sampling.process_figures import FIRST_SAMPLE, ProcessFigures

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


def _uss_reads_in_20_s(monkeypatch: pytest.MonkeyPatch, pids: list[int], budget: float) -> int:
    """USS reads (after the first ones) of ``pids`` sampled once a (fake) second for 20 s."""
    # Counts the real reads (nothing is faked): a spy on the module's reader.
    reads: list[int] = []
    real_read_uss = procfs.read_uss_bytes

    def counted(pid: int) -> int:
        reads.append(pid)
        return real_read_uss(pid)

    monkeypatch.setattr(process_figures, "read_uss_bytes", counted)
    now = [1000.0]
    # uss_max_age_s=0: the sleeping children are read when due although they
    # did not run (the rule tested below would keep their first figure).
    figures = ProcessFigures(
        uss_interval_s=1.0, max_uss_reads_per_s=budget, clock=lambda: now[0], uss_max_age_s=0.0
    )
    for pid in pids:
        assert figures.sample(pid).uss_bytes is not None
    assert len(reads) == len(pids)  # the first read of each is immediate
    for _ in range(20):
        now[0] += 1.0
        for pid in pids:
            figures.sample(pid)
    monkeypatch.setattr(process_figures, "read_uss_bytes", real_read_uss)
    return len(reads) - len(pids)


def test_uss_reads_stay_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    children = [subprocess.Popen(["sleep", "30"]) for _ in range(4)]
    try:
        pids = [child.pid for child in children]
        # Base interval 1 s: each process is read every 1 to 2 s (stagger).
        assert _uss_reads_in_20_s(monkeypatch, pids, budget=100.0) >= 40
        # One read a second for four processes: each at most every 4 s.
        assert 4 <= _uss_reads_in_20_s(monkeypatch, pids, budget=1.0) <= 20
    finally:
        for child in children:
            child.kill()
            child.wait()


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Pids passed to ``process_figures.<name>`` (the real reader still runs)."""
    calls: list[int] = []
    real = getattr(process_figures, name)

    def counted(pid: int) -> object:
        calls.append(pid)
        return real(pid)

    monkeypatch.setattr(process_figures, name, counted)
    return calls


def test_a_process_that_did_not_run_is_not_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        deadline = time.monotonic() + 10.0
        while read_argv(sleeper.pid)[:1] != ("sleep",):
            assert time.monotonic() < deadline, "the child never ran sleep"
            time.sleep(0.01)
        time.sleep(0.05)  # past exec: sleep(1) is asleep now
        stat_reads = _spy(monkeypatch, "read_stat")
        uss_reads = _spy(monkeypatch, "read_uss_bytes")
        now = [1000.0]
        figures = ProcessFigures(uss_interval_s=10.0, uss_max_age_s=60.0, clock=lambda: now[0])
        first = figures.sample(sleeper.pid)
        assert figures.ran_since_last_sample(sleeper.pid)
        assert first.uss_age_s == 0.0
        for second in range(1, 60):
            now[0] += 1.0
            later = figures.sample(sleeper.pid)
            # Exactly 0% (it did not run), RSS still read, USS kept and aged.
            assert later.cpu_percent == 0.0
            assert later.rss_bytes == first.rss_bytes
            assert later.uss_bytes == first.uss_bytes
            assert later.uss_age_s == second
            assert not figures.ran_since_last_sample(sleeper.pid)
        assert (len(stat_reads), len(uss_reads)) == (1, 1)
        # At uss_max_age_s the USS is read again, run or not.
        now[0] += 1.0
        assert figures.sample(sleeper.pid).uss_age_s == 0.0
        assert (len(stat_reads), len(uss_reads)) == (1, 2)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_with_threads_is_always_read_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both threads asleep: the main thread's schedstat does not move, but
    # it cannot speak for the other thread.
    script = (
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,)).start()\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"up\n"
        time.sleep(0.05)
        stat_reads = _spy(monkeypatch, "read_stat")
        uss_reads = _spy(monkeypatch, "read_uss_bytes")
        now = [1000.0]
        figures = ProcessFigures(uss_interval_s=10.0, uss_max_age_s=60.0, clock=lambda: now[0])
        for _ in range(30):
            figures.sample(child.pid)
            assert figures.ran_since_last_sample(child.pid)
            now[0] += 1.0
        assert len(stat_reads) == 30
        # Read when due (every 10 s, the first one staggered), not kept.
        assert len(uss_reads) >= 3
    finally:
        child.kill()
        child.wait()


def test_a_process_that_ran_is_read_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    child = subprocess.Popen([sys.executable, "-c", _BUSY_SCRIPT])
    try:
        stat_reads = _spy(monkeypatch, "read_stat")
        uss_reads = _spy(monkeypatch, "read_uss_bytes")
        figures = ProcessFigures(uss_interval_s=0.2, max_uss_reads_per_s=100.0)
        figures.sample(child.pid)
        for _ in range(5):
            time.sleep(0.3)
            sample = figures.sample(child.pid)
            assert figures.ran_since_last_sample(child.pid)
            assert sample.cpu_percent is not None and sample.cpu_percent > 0
        assert len(stat_reads) == 6
        # Due every 0.2 to 0.4 s (stagger) and run since: re-read.
        assert len(uss_reads) >= 3
    finally:
        child.kill()
        child.wait()


def test_large_proc_files_are_read_whole() -> None:
    # An environment larger than one read chunk (64 KiB) comes back intact
    # (one variable may hold at most 128 KiB).
    value = "x" * 60_000
    big = {f"BIG{n}": value for n in range(4)}
    child = subprocess.Popen(["sleep", "30"], env={**big, "AFTER": "end"})
    try:
        # Until exec, the child's /proc shows the parent's environment; during
        # exec the kernel publishes argv before the environment's end, so wait
        # for the last variable (it is only visible once all of them are).
        deadline = time.monotonic() + 10.0
        environment = read_environ(child.pid)
        while read_argv(child.pid)[:1] != ("sleep",) or "AFTER" not in environment:
            assert time.monotonic() < deadline, "the child never ran sleep"
            time.sleep(0.01)
            environment = read_environ(child.pid)
    finally:
        child.kill()
        child.wait()
    assert all(environment[name] == value for name in big)
    assert environment["AFTER"] == "end"

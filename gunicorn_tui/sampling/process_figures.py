"""CPU and memory of host processes, state kept per pid across samples.

CPU% is measured since the previous sample of the same process, so state
lives across samples; the first sample has no interval and is reported as
unavailable, never as 0%. psutil gives the wall-clock start time, once per
process; the rest comes from small /proc reads (psutil's ``is_running`` plus
``oneshot`` costs about five times as much).

What is read, and how often (``ProcessFigures.sample``):

- ``schedstat`` every sample: the nanoseconds the process's main thread
  has run. When it is unchanged and the process had a single thread at its
  last full read (a sync worker, idle between heartbeats), the process has
  not run since: its CPU% over the interval is exactly 0, and its CPU
  time, descriptors and heartbeat cannot have changed. ``stat`` is then
  not read, and ``ran_since_last_sample`` tells the instance sampler that
  it may keep the worker's descriptors, heartbeat and connections. A reused
  pid is a new process that has run, so its count differs; a process with
  threads always gets the full read (its other threads are not in the
  main thread's count).
- ``statm`` (RSS) every sample, run or not: the kernel can reclaim or swap
  out a sleeping process's pages, and that is what RSS is watched for.
- ``smaps_rollup`` (USS, ~0.3 ms per process, more on a busy machine) every
  ``uss_interval_s`` per process, staggered, stretched so that at most
  ``max_uss_reads_per_s`` reads happen a second (with 200 processes, 20
  containers of 8 workers: every 20 s or a little more). A process that
  has not run since its last USS read cannot have gained private pages,
  only lost some to reclaim: its USS is kept until ``uss_max_age_s``. Each
  sample carries ``uss_age_s``, the age of the figure it shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil

from gunicorn_tui.host.procfs import (
    ProcessGone,
    ProcStat,
    read_ns_pid,
    read_rss_bytes,
    read_sched_ns,
    read_stat,
    read_uss_bytes,
)
from gunicorn_tui.model.instances import ProcessSample

PERMISSION_DENIED = "permission denied"
FIRST_SAMPLE = "first sample: no interval yet"
NO_INTERVAL = "sampled twice at the same instant"


@dataclass
class _Tracked:
    start_ticks: int | None  # None when /proc/<pid>/stat is unreadable
    create_time: float
    ns_pid: int | None
    cpu_time_s: float | None = None
    cpu_read_at: float = 0.0
    # schedstat at the last sample, and whether the process had one thread
    # then; None: unknown, so "did not run" is never concluded.
    sched_ns: int | None = None
    single_threaded: bool = False
    ran: bool = True
    uss_bytes: int | None = None
    uss_error: str | None = None
    uss_due_at: float = 0.0
    uss_read_at: float | None = None
    uss_sched_ns: int | None = None


DEFAULT_USS_INTERVAL_S = 10.0
DEFAULT_USS_MAX_AGE_S = 60.0


class ProcessFigures:
    """Samples CPU%, RSS, USS and age of host processes by pid."""

    def __init__(
        self,
        uss_interval_s: float = DEFAULT_USS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_uss_reads_per_s: float = 10.0,
        uss_max_age_s: float = DEFAULT_USS_MAX_AGE_S,
    ) -> None:
        self._tracked: dict[int, _Tracked] = {}
        self._uss_interval_s = uss_interval_s
        self._max_uss_reads_per_s = max_uss_reads_per_s
        self._uss_max_age_s = uss_max_age_s
        self._clock = clock
        self._wall_clock = wall_clock

    def _read_stat(self, pid: int) -> ProcStat | None:
        """The stat figures, or None when permission is denied."""
        try:
            return read_stat(pid)
        except ProcessGone:
            self._tracked.pop(pid, None)
            raise
        except PermissionError:
            return None

    def _track(self, pid: int, stat: ProcStat | None) -> _Tracked:
        tracked = self._tracked.get(pid)
        start_ticks = stat.start_ticks if stat is not None else None
        # A reused pid is a different process: start over.
        if tracked is not None and tracked.start_ticks == start_ticks:
            return tracked
        try:
            create_time = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess as error:
            self._tracked.pop(pid, None)
            raise ProcessGone(str(pid)) from error
        try:
            ns_pid = read_ns_pid(pid)
        except PermissionError:
            ns_pid = None
        tracked = _Tracked(start_ticks, create_time, ns_pid)
        self._tracked[pid] = tracked
        return tracked

    def ns_pid(self, pid: int) -> int | None:
        """The pid inside the process's own namespace (cached)."""
        return self._track(pid, self._read_stat(pid)).ns_pid

    def create_time(self, pid: int) -> float:
        """Wall-clock start time of the process (cached)."""
        return self._track(pid, self._read_stat(pid)).create_time

    def ran_since_last_sample(self, pid: int) -> bool:
        """False only when the last ``sample(pid)`` found that the process had
        not run since the sample before it (see the module docstring)."""
        tracked = self._tracked.get(pid)
        return tracked is None or tracked.ran

    def _read_sched_ns(self, pid: int) -> int | None:
        try:
            return read_sched_ns(pid)
        except ProcessGone:
            self._tracked.pop(pid, None)
            raise

    def sample(self, pid: int) -> ProcessSample:
        """Figures of ``pid`` since the previous call. Raises ProcessGone."""
        now = self._clock()
        unavailable: dict[str, str] = {}
        cpu: float | None = None
        rss: int | None = None
        tracked = self._tracked.get(pid)
        sched_ns = self._read_sched_ns(pid)
        if (
            tracked is not None
            and tracked.single_threaded
            and sched_ns is not None
            and sched_ns == tracked.sched_ns
            and tracked.cpu_time_s is not None
            and now > tracked.cpu_read_at
        ):
            # Not run since the last sample: no CPU used, nothing of its own
            # changed. Memory can still shrink under it (reclaim): re-read.
            tracked.ran = False
            cpu = 0.0
            tracked.cpu_read_at = now
            try:
                rss = read_rss_bytes(pid)
            except ProcessGone:
                self._tracked.pop(pid, None)
                raise
        else:
            stat = self._read_stat(pid)
            tracked = self._track(pid, stat)
            tracked.ran = True
            tracked.sched_ns = sched_ns
            if stat is None:
                tracked.single_threaded = False
                unavailable["cpu_percent"] = PERMISSION_DENIED
                unavailable["rss_bytes"] = PERMISSION_DENIED
            else:
                # Read after schedstat: a thread started in between makes
                # this False, never a wrong True.
                tracked.single_threaded = stat.threads == 1
                rss = stat.rss_bytes
                previous, previous_at = tracked.cpu_time_s, tracked.cpu_read_at
                if previous is None:
                    unavailable["cpu_percent"] = FIRST_SAMPLE
                elif now <= previous_at:
                    unavailable["cpu_percent"] = NO_INTERVAL
                else:
                    cpu = max(0.0, (stat.cpu_time_s - previous) / (now - previous_at) * 100.0)
                tracked.cpu_time_s, tracked.cpu_read_at = stat.cpu_time_s, now

        if now >= tracked.uss_due_at:
            self._maybe_read_uss(pid, tracked, now, sched_ns)
        if tracked.uss_bytes is None:
            unavailable["uss_bytes"] = tracked.uss_error or "not read yet"
        if tracked.ns_pid is None:
            unavailable["ns_pid"] = PERMISSION_DENIED

        return ProcessSample(
            pid=pid,
            ns_pid=tracked.ns_pid,
            cpu_percent=cpu,
            rss_bytes=rss,
            uss_bytes=tracked.uss_bytes,
            age_s=max(0.0, self._wall_clock() - tracked.create_time),
            unavailable=unavailable,
            uss_age_s=(
                max(0.0, now - tracked.uss_read_at)
                if tracked.uss_bytes is not None and tracked.uss_read_at is not None
                else None
            ),
        )

    def _maybe_read_uss(
        self, pid: int, tracked: _Tracked, now: float, sched_ns: int | None
    ) -> None:
        """Read USS if it is due; ``tracked.uss_due_at`` has passed."""
        # The first read is immediate; later ones are staggered across
        # processes so the expensive reads do not land in one sample.
        interval = max(self._uss_interval_s, len(self._tracked) / self._max_uss_reads_per_s)
        stagger = 0.0 if tracked.uss_due_at else (pid % 7) * interval / 7
        if (
            tracked.uss_read_at is not None
            and tracked.uss_bytes is not None
            and sched_ns is not None
            and sched_ns == tracked.uss_sched_ns
            and now - tracked.uss_read_at < self._uss_max_age_s
        ):
            # Not run since the last USS read: no new private pages. Look
            # again at the next sample (one comparison, no read).
            return
        tracked.uss_due_at = now + interval + stagger
        # Kept later only if it had one thread now: another thread could
        # run (and allocate) without the main thread's count moving.
        tracked.uss_read_at = now
        tracked.uss_sched_ns = sched_ns if tracked.single_threaded else None
        try:
            tracked.uss_bytes, tracked.uss_error = read_uss_bytes(pid), None
        except PermissionError:
            tracked.uss_bytes, tracked.uss_error = None, PERMISSION_DENIED
        except ProcessGone as error:
            self._tracked.pop(pid, None)
            raise ProcessGone(str(pid)) from error
        except OSError as error:
            tracked.uss_bytes, tracked.uss_error = None, f"unreadable: {error.strerror}"

    def forget_except(self, live_pids: Iterable[int]) -> None:
        """Drop state for processes no longer watched."""
        keep = set(live_pids)
        for pid in [pid for pid in self._tracked if pid not in keep]:
            del self._tracked[pid]

"""While the driver measures, the caller's own threads take only spare CPU.

The load driver runs in a process of its own, but on a small machine the
caller (the dashboard: Textual's redraws, the sampler, the log followers)
still competes with the driver and the server under test for the same
cores, in bursts at each redraw: the client's p99 then partly measures gtui.
For the length of a run, :class:`CpuYield` lowers the priority of every
thread of this process but the ones named (the driver's supervisor, which
forwards its seconds) to nice ``YIELD_NICE``, and puts each back afterwards.
Under contention the kernel then gives the driver and the server about ten
times the share of our threads; on an idle machine nothing changes.

``YIELD_MODE = "idle"`` puts the threads under Linux's ``SCHED_IDLE`` policy
instead (any other thread that wakes takes the core at once). It is not the
default: measured with ``benchmarks/driver_isolation.py`` its p99 was not
clearly better than nice 10 (see benchmarks/README.md), and under a
CPU-bound run that fills every core a ``SCHED_IDLE`` thread gets about 0.3%
of a core's share against nice 10's 10%: the monitor, which a guided A/B
samples from this process during the run, would fall seconds behind.

Linux only (``/proc/self/task``); elsewhere, or when the process could not
get its threads' priority back afterwards (not root and no ``RLIMIT_NICE``
room: leaving ``SCHED_IDLE`` is checked like lowering nice), it does
nothing: a dashboard left slow after a run would be worse than a slightly
noisier p99.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

YIELD_NICE = 10
# "nice": nice YIELD_NICE under the normal policy (the default); "idle": SCHED_IDLE.
YIELD_MODE: Literal["idle", "nice"] = "nice"
_TASKS = Path("/proc/self/task")


@dataclass(frozen=True)
class _Priority:
    policy: int
    nice: int


_lock = threading.Lock()
_holders = 0
_mode: Literal["idle", "nice"] = "nice"
_saved: dict[int, _Priority] = {}
_left_alone: set[int] = set()  # threads already yielding (or asked to be kept)
_base = _Priority(0, 0)


def _thread_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_TASKS)]
    except (OSError, ValueError):
        return []


def _can_restore(base_nice: int) -> bool:
    """Whether this process may lower a thread's nice back to ``base_nice``
    (the same right takes a thread out of ``SCHED_IDLE`` at that nice)."""
    if os.geteuid() == 0:
        return True
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY:
        return True
    return 20 - soft <= base_nice  # RLIMIT_NICE n allows nice down to 20 - n


def _priority_of(tid: int) -> _Priority | None:
    try:
        return _Priority(os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid))
    except OSError:
        return None  # the thread ended


def _yielding(priority: _Priority, mode: str) -> bool:
    if mode == "idle":
        return priority.policy == os.SCHED_IDLE
    return priority.nice >= YIELD_NICE


def _lower(tid: int, mode: str) -> None:
    with contextlib.suppress(OSError):  # ended meanwhile, or not permitted
        if mode == "idle":
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, tid, YIELD_NICE)


def _restore(tid: int, priority: _Priority) -> None:
    with contextlib.suppress(OSError):  # ended meanwhile, or not permitted
        if os.sched_getscheduler(tid) != priority.policy:
            # The fair policies keep the thread's nice across the change.
            os.sched_setscheduler(tid, priority.policy, os.sched_param(0))
        if os.getpriority(os.PRIO_PROCESS, tid) != priority.nice:
            os.setpriority(os.PRIO_PROCESS, tid, priority.nice)


def _fair(policy: int) -> bool:
    return policy in (os.SCHED_OTHER, os.SCHED_BATCH, os.SCHED_IDLE)


class CpuYield:
    """Lower this process's threads (all but ``keep_tids``) while held.

    Nested holders share one lowering: the first :meth:`begin` lowers, the
    last :meth:`end` restores. Threads started while it is held inherit the
    lowering; :meth:`end` puts them at the process's priority from before.
    """

    def __init__(self, keep_tids: frozenset[int] = frozenset()) -> None:
        self.keep_tids = keep_tids
        self.active = False

    def begin(self) -> bool:
        """Lower the other threads; False when this platform or user cannot."""
        global _holders, _base, _mode
        with _lock:
            if _holders == 0:
                mode = YIELD_MODE if hasattr(os, "SCHED_IDLE") else "nice"
                tids = _thread_ids()
                base = _priority_of(os.getpid())
                if (
                    not tids
                    or base is None
                    or not _fair(base.policy)
                    or _yielding(base, mode)
                    or not _can_restore(base.nice)
                ):
                    return False
                _mode, _base = mode, base
                _saved.clear()
                _left_alone.clear()
                for tid in tids:
                    priority = _priority_of(tid)
                    if (
                        tid in self.keep_tids
                        or priority is None
                        or _yielding(priority, mode)
                        or not _fair(priority.policy)
                        or not _can_restore(priority.nice)
                    ):
                        _left_alone.add(tid)
                        continue
                    _saved[tid] = priority
                    _lower(tid, mode)
            _holders += 1
            self.active = True
            return True

    def end(self) -> None:
        """Put every thread lowered (or born lowered) back; idempotent."""
        global _holders
        with _lock:
            if not self.active:
                return
            self.active = False
            _holders -= 1
            if _holders > 0:
                return
            for tid in _thread_ids():
                if tid in _saved:
                    _restore(tid, _saved[tid])
                elif tid not in _left_alone:
                    priority = _priority_of(tid)
                    if priority is not None and _yielding(priority, _mode):
                        _restore(tid, _base)  # born lowered, during the run
            _saved.clear()
            _left_alone.clear()

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

Linux only (per-thread nice through ``/proc/self/task``); elsewhere, or when
the process could not raise its priority back afterwards (not root and no
``RLIMIT_NICE`` room), it does nothing: a dashboard left slow after a run
would be worse than a slightly noisier p99.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from pathlib import Path

YIELD_NICE = 10
_TASKS = Path("/proc/self/task")

_lock = threading.Lock()
_holders = 0
_saved: dict[int, int] = {}
_left_alone: set[int] = set()  # threads already at YIELD_NICE or above
_base_nice = 0


def _thread_ids() -> list[int]:
    try:
        return [int(name) for name in os.listdir(_TASKS)]
    except (OSError, ValueError):
        return []


def _can_restore(base_nice: int) -> bool:
    """Whether this process may lower a thread's nice back to ``base_nice``."""
    if os.geteuid() == 0:
        return True
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY:
        return True
    return 20 - soft <= base_nice  # RLIMIT_NICE n allows nice down to 20 - n


def _nice_of(tid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:
        return None  # the thread ended


def _set_nice(tid: int, nice: int) -> None:
    with contextlib.suppress(OSError):  # ended meanwhile, or not permitted
        os.setpriority(os.PRIO_PROCESS, tid, nice)


class CpuYield:
    """Lower this process's threads (all but ``keep_tids``) while held.

    Nested holders share one lowering: the first :meth:`begin` lowers, the
    last :meth:`end` restores. Threads started while it is held inherit the
    lowered nice; :meth:`end` puts them at the process's nice from before.
    """

    def __init__(self, keep_tids: frozenset[int] = frozenset()) -> None:
        self.keep_tids = keep_tids
        self.active = False

    def begin(self) -> bool:
        """Lower the other threads; False when this platform or user cannot."""
        global _holders, _base_nice
        with _lock:
            if _holders == 0:
                tids = _thread_ids()
                base = _nice_of(os.getpid())
                if not tids or base is None or base >= YIELD_NICE or not _can_restore(base):
                    return False
                _base_nice = base
                _saved.clear()
                _left_alone.clear()
                for tid in tids:
                    nice = _nice_of(tid)
                    if tid in self.keep_tids or nice is None or nice >= YIELD_NICE:
                        _left_alone.add(tid)
                        continue
                    _saved[tid] = nice
                    _set_nice(tid, YIELD_NICE)
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
                    _set_nice(tid, _saved[tid])
                elif tid not in _left_alone and _nice_of(tid) == YIELD_NICE:
                    _set_nice(tid, _base_nice)
            _saved.clear()
            _left_alone.clear()

"""The measured process of ``sampling_cost.py``: the headless core at 1 Hz.

Run by ``sampling_cost.py`` as a fresh child so that nothing but the monitor
(its imports done, its threads running) is charged to it. Arguments are the
container names to watch. It opens a ``Monitor`` on exactly those targets,
samples once a second on a fixed schedule (as the dashboard does), and after
each sample writes one JSON line to stdout::

    {"sample": N, "duration_s": ..., "instances": ..., "workers": ...,
     "notices": [...]}

After the first sample it waits (bounded) for the runtime probes the monitor
starts (one ``docker exec`` per container, off the sampling path), so that
start-up work does not spill into the parent's measurement window. It stops
when its stdin reaches end of file, which is how the parent ends it; it never
samples unbounded because the parent always closes stdin or kills it.

With ``--profile FILE`` it runs the sampling loop under cProfile and writes
the stats to FILE at exit (for finding where the time goes, not for timing).

Run by hand: ``python benchmarks/monitor_at_1hz.py NAME... < /dev/null`` samples
once and exits at once (stdin is already at end of file).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import select
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target

INTERVAL_S = 1.0
PROBE_WAIT_S = 60.0
# A loaded machine can take more than the default 3 s to list containers.
OPEN_WAIT_S = 30.0


def _stdin_closed(timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the parent to close our stdin."""
    readable, _, _ = select.select([sys.stdin], [], [], max(0.0, timeout_s))
    if not readable:
        return False
    return os.read(sys.stdin.fileno(), 4096) == b""


def _report(number: int, monitor: Monitor) -> None:
    started = time.perf_counter()
    frame = monitor.sample()
    duration = time.perf_counter() - started
    line = {
        "sample": number,
        "duration_s": duration,
        "instances": len(frame.instances),
        "workers": sum(len(instance.workers) for instance in frame.instances),
        "notices": list(frame.notices),
    }
    print(json.dumps(line), flush=True)


def watch(names: list[str]) -> None:
    """Sample the named containers once a second until stdin closes."""
    options = MonitorOptions(targets=tuple(parse_target(name) for name in names))
    monitor = Monitor(options)
    monitor.open(wait_for_docker_s=OPEN_WAIT_S)
    try:
        monitor.check_targets()
        _report(1, monitor)
        monitor.wait_for_probes(PROBE_WAIT_S)
        number = 2
        next_at = time.monotonic()
        while True:
            _report(number, monitor)
            number += 1
            next_at += INTERVAL_S
            if _stdin_closed(next_at - time.monotonic()):
                return
    finally:
        monitor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="container names to watch")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats to FILE")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            watch(args.names)
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile)
    else:
        watch(args.names)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group; the parent cleans up.
        sys.exit(130)

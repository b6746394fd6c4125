"""``gtui watch``: one record per instance per sample until stopped.

For scripts and for recording a run: ``--jsonl`` writes each instance as a
JSON object per line (the snapshot schema, plus ``taken_at``), flushed per
sample so a pipe sees it at once. Bounded by ``--count``/``--duration`` or
by Ctrl-C / SIGTERM, which end it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import replace
from types import FrameType

from gunicorn_tui.cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import open_monitor
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.output.snapshot_json import SCHEMA, instance_json, iso_time
from gunicorn_tui.output.units import format_bytes, format_percent
from gunicorn_tui.traffic.instance_traffic import TrafficView


def text_line(sample: InstanceSample, traffic: TrafficView | None, taken_at: float) -> str:
    """A compact one-line summary of an instance."""
    clock = time.strftime("%H:%M:%S", time.localtime(taken_at))
    busy = sum(1 for worker in sample.workers if worker.state.value in ("busy", "stuck"))
    label = sample.label if sample.host == "local" else f"{sample.host}/{sample.label}"
    parts = [
        clock,
        label + (" (stale)" if sample.stale else ""),
        f"workers {len(sample.workers)} busy {busy}",
        f"cpu {format_percent(sample.totals.cpu_percent)}%",
        f"mem {format_bytes(sample.totals.memory_bytes)}",
    ]
    if traffic is not None and traffic.snapshot.requests_total:
        window = traffic.snapshot.window(10)
        p99 = window.latency.p99_ms
        parts.append(f"req/s {window.requests_per_s:.1f}")
        parts.append(f"p99 {p99:.1f}ms" if p99 is not None else "p99 n/a")
        if window.error_rate is not None:
            parts.append(f"5xx {window.error_rate * 100:.1f}%")
    return "  ".join(parts)


def write_frame(frame: MonitorFrame, jsonl: bool) -> None:
    for sample in frame.instances:
        traffic = frame.traffic.get(sample.key)
        if jsonl:
            record = {"schema": SCHEMA, "frame_taken_at": iso_time(frame.taken_at)}
            record.update(instance_json(sample, traffic))
            sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
        else:
            sys.stdout.write(text_line(sample, traffic, frame.taken_at) + "\n")
    for notice in frame.notices:
        if jsonl:
            sys.stdout.write(json.dumps({"notice": notice, "at": iso_time(frame.taken_at)}) + "\n")
        else:
            sys.stdout.write(f"note: {notice}\n")
    sys.stdout.flush()


def run_watch(args: argparse.Namespace) -> int:
    """Sample every ``--interval`` and write records until stopped."""
    if not 0.1 <= args.interval <= 3600:
        raise CliError("--interval must be between 0.1 and 3600 seconds", EXIT_USAGE)
    if args.count < 0 or args.duration < 0:
        raise CliError("--count and --duration must not be negative", EXIT_USAGE)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    monitor = open_monitor(args)
    started = time.monotonic()
    written = 0
    try:
        # The first sample primes CPU counters and is not written; its
        # notices (a StatsD port in use, a master gone) are, with the next.
        pending_notices = monitor.sample().notices
        while not stop.wait(args.interval):
            frame = monitor.sample()
            if pending_notices:
                frame = replace(frame, notices=pending_notices + frame.notices)
                pending_notices = ()
            write_frame(frame, args.jsonl)
            written += 1
            if args.count and written >= args.count:
                break
            if args.duration and time.monotonic() - started >= args.duration:
                break
    finally:
        monitor.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK

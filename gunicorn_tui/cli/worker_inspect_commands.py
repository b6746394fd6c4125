"""``gtui dump TARGET [--worker PID]`` and ``gtui profile TARGET --worker PID``:
a worker's Python stack, or a flame graph of it, with py-spy."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import open_target_monitor, select_instance
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.worker_inspect.py_spy import (
    PySpyError,
    PySpyMissing,
    dump_stack,
    find_py_spy,
    record_flame_graph,
)

MAX_PROFILE_S = 600.0


def _instance(args: argparse.Namespace) -> InstanceSample:
    monitor = open_target_monitor(args)
    try:
        return select_instance(monitor, args.target)
    finally:
        monitor.close()


def _pids(sample: InstanceSample, worker: int | None) -> list[int]:
    workers = [w.pid for w in sample.workers if w.pid is not None]
    if worker is None:
        return workers
    if worker != sample.master.pid and worker not in workers:
        known = ", ".join(str(pid) for pid in workers)
        raise CliError(f"{worker} is not a worker of {sample.label} (workers: {known})",
                       EXIT_USAGE)  # fmt: skip
    return [worker]


def run_dump(args: argparse.Namespace) -> int:
    """Print the Python stack of the worker(s)."""
    try:
        find_py_spy()
    except PySpyMissing as error:
        raise CliError(str(error), EXIT_FAILURE) from error
    sample = _instance(args)
    pids = _pids(sample, args.worker)
    dumps, failures = [], []
    for pid in pids:
        try:
            dumps.append(dump_stack(pid, native=args.native, with_locals=args.locals))
        except PySpyError as error:
            failures.append(str(error))
    if args.json:
        document = {
            "instance": sample.key,
            "workers": [{"pid": d.pid, "stack": d.text} for d in dumps],
            "errors": failures,
        }
        print(json.dumps(document, indent=2))
    else:
        for dump in dumps:
            print(f"== worker {dump.pid} of {sample.label} ==")
            print(dump.text.rstrip())
            print()
    if failures and not dumps:
        raise CliError(failures[0], EXIT_FAILURE)
    for failure in failures:
        print(f"gtui dump: {failure}", file=sys.stderr)
    return EXIT_FAILURE if failures else EXIT_OK


def run_profile(args: argparse.Namespace) -> int:
    """Record a flame graph (SVG) of one worker."""
    if not 0 < args.duration <= MAX_PROFILE_S:
        raise CliError(f"--duration must be in (0, {MAX_PROFILE_S:g}] seconds", EXIT_USAGE)
    try:
        find_py_spy()
    except PySpyMissing as error:
        raise CliError(str(error), EXIT_FAILURE) from error
    sample = _instance(args)
    (pid,) = _pids(sample, args.worker)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = Path(args.output or f"gtui-profile-{pid}-{stamp}.svg").expanduser()
    if output.suffix.lower() != ".svg":
        raise CliError(f"--output {output}: a flame graph is an .svg file", EXIT_USAGE)
    print(f"gtui profile: sampling worker {pid} of {sample.label} for {args.duration:g} s",
          file=sys.stderr)  # fmt: skip
    try:
        record_flame_graph(pid, output, duration_s=args.duration, rate_hz=args.rate)
    except PySpyError as error:
        raise CliError(str(error), EXIT_FAILURE) from error
    print(output)
    return EXIT_OK

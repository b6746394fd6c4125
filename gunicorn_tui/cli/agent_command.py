"""``gtui agent``: the remote end of a local gtui, run over SSH.

A local gtui watching ``ssh://HOST`` runs ``gtui agent`` on HOST over the
same SSH connection. The agent samples as a local gtui would there (/proc,
cgroups, control sockets: per-worker CPU, USS, heartbeats, connections) and
streams the ``gtui watch --jsonl`` records as deltas
(:mod:`gunicorn_tui.output.agent_stream`). It acts on nothing: actions on
containers go through HOST's Docker engine, and actions on masters outside
containers are separate runs of HOST's ``gtui scale/retune/...`` over the
same connection (:mod:`gunicorn_tui.control.remote_host`). It ends when its
stdin closes (the SSH channel), on SIGTERM/SIGHUP, or after ``--duration``.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import sys
import threading
import time
from types import FrameType

from gunicorn_tui import __version__
from gunicorn_tui.cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import engine_endpoints
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.output.agent_stream import FrameEncoder, hello
from gunicorn_tui.output.snapshot_json import SCHEMA, instance_json

PRIMING_S = 0.25


def _stdin_closed() -> bool:
    """True once the other end hung up (stdin at EOF), without blocking."""
    try:
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    if not ready:
        return False
    try:
        return os.read(sys.stdin.fileno(), 4096) == b""
    except OSError:
        return True


def run_agent(args: argparse.Namespace) -> int:
    """Sample every ``--interval`` and stream deltas on stdout until told to stop."""
    if not 0.1 <= args.interval <= 60:
        raise CliError("--interval must be between 0.1 and 60 seconds", EXIT_USAGE)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, request_stop)
    out = sys.__stdout__.buffer if sys.__stdout__ is not None else None
    if out is None:
        raise CliError("no stdout to stream to", EXIT_USAGE)
    # Targets that name nothing here are no error: the local gtui asks
    # every host for what it was given.
    monitor = Monitor(
        MonitorOptions(
            targets=tuple(parse_target(text) for text in args.targets or []),
            use_docker=not args.no_docker,
            force_api=args.api_only,
            statsd_address=None,
            collect_traffic=False,
            engines=engine_endpoints(args),
            agents=False,
        )
    )
    monitor.open()
    encoder = FrameEncoder()
    started = time.monotonic()
    try:
        out.write(hello(SCHEMA, __version__, socket.gethostname()))
        out.flush()
        monitor.sample()  # primes CPU counters
        # The first frame soon after (CPU needs an interval, not a whole
        # one): the local gtui's first full frame waits for it.
        wait_s = PRIMING_S
        while not stop.wait(wait_s):
            wait_s = args.interval
            if _stdin_closed():
                break
            frame = monitor.sample()
            records = {sample.key: instance_json(sample) for sample in frame.instances}
            out.write(encoder.frame(frame.taken_at, records, frame.notices))
            out.flush()
            if args.duration and time.monotonic() - started >= args.duration:
                break
    except BrokenPipeError:
        pass  # the SSH channel closed
    finally:
        monitor.close()
    return EXIT_OK

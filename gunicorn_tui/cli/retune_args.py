"""The RetuneRequest that the settings options name.

``gtui retune`` and ``gtui ab`` take the same settings
(:func:`gunicorn_tui.cli.options.add_retune_settings`); both read them here,
so neither command module imports the other.
"""

from __future__ import annotations

import argparse

from gunicorn_tui.control.planning.requests import RetuneRequest


def retune_request(args: argparse.Namespace) -> RetuneRequest:
    """The RetuneRequest named by the retune settings' options."""
    return RetuneRequest(
        workers=args.workers,
        worker_class=args.worker_class,
        threads=args.threads,
        worker_connections=args.worker_connections,
        timeout=args.timeout,
        graceful_timeout=args.graceful_timeout,
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
        keepalive=args.keepalive,
        preload_app=args.preload_app,
        allow_restart=args.restart,
    )

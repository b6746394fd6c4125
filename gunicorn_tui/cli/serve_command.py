"""``gtui serve [TARGET...]``: the dashboard in a browser, for a review.

Read-only unless ``--allow-actions``; on loopback only unless
``--allow-remote``, and then only with a token (given, or made and printed).
"""

from __future__ import annotations

import argparse
import secrets
import shlex
import sys

from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError


def dashboard_command(args: argparse.Namespace) -> str:
    """The shell command each browser tab runs: this gtui's dashboard with
    the same targets and options."""
    words = [sys.executable, "-m", "gunicorn_tui"]
    if not args.allow_actions:
        words.append("--read-only")
    if args.config:
        words += ["--config", args.config]
    if args.log_file:
        words += ["--log-file", args.log_file]
    words += ["dashboard", *args.targets]
    if args.no_docker:
        words.append("--no-docker")
    if args.api_only:
        words.append("--api-only")
    words += ["--statsd", str(args.statsd), "--refresh", str(args.refresh)]
    if args.export_dir:
        words += ["--export-dir", str(args.export_dir)]
    return shlex.join(words)


def run_serve(args: argparse.Namespace) -> int:
    """Serve the dashboard until Ctrl-C."""
    try:
        from gunicorn_tui.browser_view.server import DashboardServer, is_loopback
    except ImportError as error:
        raise CliError(
            f"gtui serve needs textual-serve ({error.name} is missing): "
            "pip install 'gunicorn-tui[serve]'",
            EXIT_FAILURE,
        ) from error
    typed_read_only = any(
        s.key == "read_only" and s.source == "command line" and s.value
        for s in getattr(args, "settings", ())
    )
    if args.allow_actions and typed_read_only:
        raise CliError("--allow-actions and --read-only contradict each other", EXIT_USAGE)
    token = args.token
    if not is_loopback(args.host):
        if not args.allow_remote:
            raise CliError(
                f"--host {args.host} is reachable from other machines: refused without "
                "--allow-remote (which also requires a token)",
                EXIT_USAGE,
            )
        token = token or secrets.token_urlsafe(24)
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: not a TCP port", EXIT_USAGE)
    server = DashboardServer(
        dashboard_command(args),
        host=args.host,
        port=args.port,
        token=token,
        title="gtui",
        public_url=args.public_url,
    )
    url = server.public_url + (f"/?token={token}" if token else "/")
    mode = "actions allowed" if args.allow_actions else "read-only"
    print(f"gtui serve: the dashboard at {url} ({mode}); Ctrl-C stops", flush=True)
    try:
        server.serve()
    except OSError as error:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {error.strerror}",
                       EXIT_FAILURE) from error  # fmt: skip
    return EXIT_OK

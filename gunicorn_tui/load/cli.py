"""``gtui load``: run a load profile from the command line.

Exit codes: 0 the run ended (whatever the server answered), 1 the run failed
(it could not start, broke down, or not one request got a response), 2 usage
(bad arguments or profile), 130 interrupted with Ctrl-C (the summary of what
ran is still printed). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from gunicorn_tui.load.driver import LoadRun, LoadRunError
from gunicorn_tui.load.profile import (
    ProfileError,
    builtin_profile_names,
    load_profile_or_builtin,
    parse_profile_text,
)
from gunicorn_tui.load.report import format_second, format_summary, summary_to_dict
from gunicorn_tui.load.summary import RunSummary, SecondSummary
from gunicorn_tui.load.target import TargetError, resolve_target

PROG = "gtui load"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_JOIN_POLL_S = 0.2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Send a bounded, repeatable load to a Gunicorn server and report "
            "throughput, errors and latency (from the due time, so a slow server "
            "cannot hide behind a waiting client)."
        ),
        epilog=f"Built-in profiles: {', '.join(builtin_profile_names())}.",
    )
    parser.add_argument(
        "profile",
        nargs="?",
        default="mixed",
        help="a profile file (TOML) or the name of a built-in profile (default: mixed)",
    )
    parser.add_argument("--url", help="base URL of the server, overriding the profile's")
    parser.add_argument(
        "--path",
        action="append",
        metavar="PATH",
        help="send GET PATH instead of the profile's requests (repeatable; equal weights)",
    )
    pacing = parser.add_mutually_exclusive_group()
    pacing.add_argument("--rate", type=float, metavar="RPS", help="open loop at RPS req/s")
    pacing.add_argument("--concurrency", type=int, metavar="N", help="closed loop with N clients")
    parser.add_argument("--duration", type=float, metavar="S", help="run for S seconds")
    parser.add_argument("--requests", type=int, metavar="N", help="stop after N requests")
    parser.add_argument("--ramp-up", type=float, metavar="S", help="ramp up over S seconds")
    parser.add_argument("--timeout", type=float, metavar="S", help="per-request timeout")
    parser.add_argument("--connections", type=int, metavar="N", help="connection limit")
    parser.add_argument("--seed", type=int, help="seed for the request mix")
    parser.add_argument(
        "--insecure", action="store_true", help="accept any TLS certificate (self-signed)"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no per-second progress on stderr")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if args.rate is not None:
        overrides.update(mode="open", rate_rps=args.rate, concurrency=None)
    if args.concurrency is not None:
        overrides.update(mode="closed", concurrency=args.concurrency, rate_rps=None)
    if args.duration is not None:
        overrides["duration_s"] = args.duration
    if args.requests is not None:
        overrides["max_requests"] = args.requests
    if args.ramp_up is not None:
        overrides["ramp_up_s"] = args.ramp_up
    if args.timeout is not None:
        overrides["timeout_s"] = args.timeout
        # A drain longer than the new timeout would be refused; keep the default.
        overrides["drain_s"] = None
    if args.connections is not None:
        overrides["connections"] = args.connections
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.insecure:
        overrides["verify_tls"] = False
    return overrides


def _paths_profile_text(paths: Sequence[str]) -> str:
    requests = "\n".join(f"[[request]]\npath = {json.dumps(path)}\n" for path in paths)
    return f"[run]\nrate_rps = 1\nmax_requests = 1\n{requests}"


def run_load_cli(
    argv: Sequence[str] | None = None,
    *,
    default_bind: str | Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``gtui load`` with ``argv`` (without the program name).

    ``default_bind`` is the bind address of the instance the caller chose,
    used when neither ``--url`` nor the profile gives a URL.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr

    def fail(code: int, message: str) -> int:
        print(f"{PROG}: error: {message}", file=err)
        return code

    parser = _build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except _UsageError as exc:
        return fail(EXIT_USAGE, f"{exc} (see {PROG} --help)")
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK

    try:
        profile = load_profile_or_builtin(args.profile, overrides=_overrides(args))
        if args.path:
            # Only the request list is taken from this stub; the run shape
            # stays the profile's, so the stub's bound is a placeholder.
            paths = parse_profile_text(_paths_profile_text(args.path), source="--path")
            profile = dataclasses.replace(profile, requests=paths.requests)
        target = resolve_target(
            override_url=args.url, profile_base_url=profile.base_url, bind=default_bind
        )
    except (ProfileError, TargetError) as exc:
        return fail(EXIT_USAGE, str(exc))

    def on_second(second: SecondSummary) -> None:
        if not args.quiet:
            print(format_second(second), file=err, flush=True)

    run = LoadRun(profile, target, on_second=on_second).start()
    interrupted = False
    summary: RunSummary | None = None
    try:
        while summary is None:
            try:
                summary = run.join(_JOIN_POLL_S)
            except KeyboardInterrupt:
                interrupted = True
                run.stop()
    except LoadRunError as exc:
        return fail(EXIT_FAILED, str(exc))

    if args.json:
        print(json.dumps(summary_to_dict(summary), indent=2), file=out)
    else:
        print(format_summary(summary), file=out)
    if interrupted:
        return EXIT_INTERRUPTED
    if summary.sent and summary.completed == 0:
        errors = ", ".join(
            f"{kind} {count}"
            for kind, count in summary_to_dict(summary)["errors"].items()
            if count and kind != "total"
        )
        return fail(EXIT_FAILED, f"no request got a response from {target.label} ({errors})")
    return EXIT_OK


def main() -> None:
    """Console entry point for trying the driver on its own."""
    sys.exit(run_load_cli(sys.argv[1:]))


if __name__ == "__main__":
    main()

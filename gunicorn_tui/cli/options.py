"""Options that several ``gtui`` commands share, declared once.

Every option has help text with its unit and, where it has one, its
default (the help formatter appends it). Defaults that a config file can
change (``--refresh``, ``--statsd``, ``--export-dir``, ``--read-only``) are
``None`` here and resolved in :mod:`gunicorn_tui.cli.effective`, so a
value from the command line, the config file and the built-in default can
be told apart.

This module imports nothing but :mod:`argparse`: the whole parser tree is
built on every start (and on every Tab of shell completion).
"""

from __future__ import annotations

import argparse

# The built-in defaults of the settings a config file can change. The
# effective values are resolved in gunicorn_tui.cli.effective.
DEFAULT_REFRESH_S = 1.0
DEFAULT_STATSD = "127.0.0.1:8125"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks; an option's default is appended
    to its help unless it is empty (None, False) or already said."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text
            or default is None
            or default is False
            or default == argparse.SUPPRESS
            or default == []
            or action.option_strings == []
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        return f"{text} (default: %(default)s)"


def add_targets(parser: argparse.ArgumentParser) -> None:
    """Any number of TARGETs (none: everything found)."""
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="container name or id, pid:N for a master on this host (HOST/pid:N on an "
        "ssh:// host with gtui), or PROJECT/SERVICE for a Compose service's replicas "
        "(default: all found)",
    )


def add_target(parser: argparse.ArgumentParser, extra: str = "") -> None:
    """Exactly one TARGET."""
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="container name or id, pid:N, PROJECT/SERVICE (a Compose service), "
        f"HOST/CONTAINER, or HOST/pid:N (a master on an ssh:// host, by the gtui there){extra}",
    )


def add_read_only(parser: argparse.ArgumentParser, *, root: bool = False) -> None:
    """``--read-only`` / ``--no-read-only``, accepted before the command
    (``root``) and after it.

    Below the root the default is SUPPRESS, so a subcommand that does not
    repeat it keeps the root's value instead of resetting it; None means not
    given (the config file's ``read_only`` then decides).
    """
    parser.add_argument(
        "--read-only",
        action=argparse.BooleanOptionalAction,
        default=None if root else argparse.SUPPRESS,
        help="disable every action on the servers; --no-read-only overrides read_only = true "
        "in the config file",
    )


def add_discovery(parser: argparse.ArgumentParser, *, host_option: bool = True) -> None:
    """Where gtui looks and how it samples: ``-H/--host``, ``--context``,
    ``--no-docker``, ``--api-only``, ``--statsd``. ``host_option=False``
    leaves ``--host`` to the command (``-H`` and ``--docker-host`` stay)."""
    group = parser.add_argument_group("discovery and sampling")
    add_engines(group, host_option=host_option)
    group.add_argument(
        "--no-docker", action="store_true", help="do not look at Docker containers (host only)"
    )
    group.add_argument(
        "--api-only",
        action="store_true",
        help="sample containers through the Docker API only, as with a remote daemon",
    )
    group.add_argument(
        "--statsd",
        default=None,
        metavar="HOST:PORT|off",
        help="where gtui listens for Gunicorn's StatsD packets (UDP); 'off' for none "
        f"(default: statsd in the config file, else {DEFAULT_STATSD})",
    )


def add_engines(
    group: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    host_option: bool = True,
    verb: str = "watch",
    targets: bool = True,
) -> None:
    """``-H/--host URL`` and ``--context NAME``, both repeatable: the engines
    a command watches (or does ``verb`` to); ``targets``: it takes TARGETs."""
    group.add_argument(
        "-H",
        *(("--host",) if host_option else ()),
        "--docker-host",
        action="append",
        dest="engine_hosts",
        metavar="URL",
        help=f"a Docker engine to {verb}: unix:///PATH, tcp://HOST[:PORT] (TLS from "
        "DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or ssh://[USER@]HOST (the system ssh, "
        "BatchMode); repeatable (default: DOCKER_HOST, else the current docker context)"
        + ("; a TARGET on one engine is HOST/CONTAINER" if targets else ""),
    )
    group.add_argument(
        "--context",
        action="append",
        dest="engine_contexts",
        metavar="NAME",
        help=f"a docker context whose engine to {verb} (docker context ls); repeatable",
    )


def add_refresh(parser: argparse.ArgumentParser) -> None:
    """``--refresh SECONDS`` of the dashboards."""
    parser.add_argument(
        "--refresh",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between samples, 0.1 to 60; + and - change it live "
        f"(default: refresh in the config file, else {DEFAULT_REFRESH_S:g})",
    )


def add_sample_interval(parser: argparse.ArgumentParser, *, max_s: float) -> None:
    """``--interval SECONDS`` of the commands that sample until stopped
    (``gtui watch``, ``gtui agent``)."""
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help=f"seconds between samples, 0.1 to {max_s:g}",
    )


def add_stop_after(parser: argparse.ArgumentParser) -> None:
    """``--duration SECONDS`` of the commands that sample until stopped."""
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="stop after this long (0: never)",
    )


def add_warmup(parser: argparse.ArgumentParser, *, default_s: float) -> None:
    """``--warmup SECONDS`` of the commands that change a config under load."""
    parser.add_argument(
        "--warmup",
        type=float,
        default=default_s,
        metavar="SECONDS",
        help="after each change of config, left out of the figures",
    )


def add_export_dir(parser: argparse.ArgumentParser) -> None:
    """``--export-dir DIR`` of the dashboards."""
    parser.add_argument(
        "--export-dir",
        metavar="DIR",
        default=None,
        help="where exports (e) are written (default: export_dir in the config file, "
        "else the current directory)",
    )


def add_json(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    """``--json``: print JSON instead of text, on stdout."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON on stdout")


def add_json_lines(parser: argparse.ArgumentParser) -> None:
    """``--jsonl`` (and ``--json``, the same): one JSON object per line."""
    parser.add_argument(
        "--jsonl",
        "--json",
        action="store_true",
        dest="jsonl",
        help="one JSON object per instance per sample, on stdout",
    )


def add_output(parser: argparse.ArgumentParser, formats: str) -> None:
    """``--output FILE`` (repeatable): write the result to a file too."""
    parser.add_argument(
        "--output",
        "-o",
        action="append",
        metavar="FILE",
        help=f"also write the result to FILE, in the format its suffix names ({formats}); "
        "repeatable",
    )


def add_confirmation(parser: argparse.ArgumentParser, *, dry_run: bool = True) -> None:
    """``--yes`` (and ``--dry-run``) of commands that change a server."""
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask for confirmation (needed without a tty)",
    )
    if dry_run:
        parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")


def add_consents(parser: argparse.ArgumentParser) -> None:
    """What ``--yes`` does not give, for commands that change a server."""
    consent = parser.add_argument_group("consent that --yes does not give")
    consent.add_argument(
        "--discard-changes",
        action="store_true",
        help="re-create a container even though files changed inside it (docker diff) are lost",
    )
    consent.add_argument(
        "--allow-bind-mount",
        action="store_true",
        help="write gtui's config file into a directory bind-mounted from the host",
    )
    consent.add_argument(
        "--allow-other-user",
        action="store_true",
        help="restart a host master that runs as another user (its code runs as that user)",
    )


def add_retune_settings(parser: argparse.ArgumentParser) -> None:
    """The settings ``gtui retune`` (and ``gtui ab``) can change."""
    settings = parser.add_argument_group("settings (each optional; unnamed ones stay as they are)")
    settings.add_argument("--workers", "-w", type=int, metavar="N", help="worker processes")
    settings.add_argument(
        "--worker-class", "-k", metavar="CLASS", help="sync, gthread, gevent, eventlet, ..."
    )
    settings.add_argument("--threads", type=int, metavar="N", help="threads per gthread worker")
    settings.add_argument(
        "--worker-connections",
        type=int,
        metavar="N",
        help="simultaneous clients per async worker",
    )
    settings.add_argument(
        "--timeout", "-t", type=int, metavar="SECONDS", help="silent worker is killed after"
    )
    settings.add_argument(
        "--graceful-timeout",
        type=int,
        metavar="SECONDS",
        help="time a worker gets to finish its requests on restart",
    )
    settings.add_argument(
        "--max-requests", type=int, metavar="N", help="restart a worker after N requests (0: never)"
    )
    settings.add_argument(
        "--max-requests-jitter", type=int, metavar="N", help="random 0..N added to --max-requests"
    )
    settings.add_argument(
        "--keep-alive",
        type=int,
        metavar="SECONDS",
        dest="keepalive",
        help="seconds an idle keep-alive connection is held",
    )
    preload = settings.add_mutually_exclusive_group()
    preload.add_argument(
        "--preload",
        action="store_true",
        default=None,
        dest="preload_app",
        help="load the app in the master before forking",
    )
    preload.add_argument(
        "--no-preload", action="store_false", dest="preload_app", help="load it in each worker"
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="allow stopping and starting a host master gtui did not start",
    )


def add_load_source(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--profile`` and ``--url`` of the commands that measure under load."""
    parser.add_argument(
        "--profile",
        required=required,
        metavar="NAME|FILE",
        help="load profile: a TOML file or a built-in name (mixed)"
        + ("" if required else "; without it, only the traffic the server gets"),
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="base URL for the load (default: the profile's base_url, else the instance's bind)",
    )

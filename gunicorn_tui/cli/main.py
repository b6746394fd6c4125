"""The ``gtui`` command: argument parsing, exit codes, one-line errors.

Exit codes: 0 ok, 1 failure of the operation, 2 usage, 3 target not found,
4 Docker unreachable while a container target was named. User errors never
print a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import NoReturn

from gunicorn_tui import __version__
from gunicorn_tui.cli.exit_codes import (
    EXIT_DOCKER_UNREACHABLE,
    EXIT_FAILURE,
    EXIT_TARGET_NOT_FOUND,
    EXIT_USAGE,
    CliError,
)
from gunicorn_tui.cli.safe_output import escaped_output
from gunicorn_tui.monitor.monitor import DockerUnreachable
from gunicorn_tui.monitor.targets import TargetNotFound, TargetSyntaxError
from gunicorn_tui.output.escape import escape_controls

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-docker", action="store_true", help="do not look at Docker containers")
    parser.add_argument(
        "--read-only", action="store_true", help="disable every action on the servers"
    )
    parser.add_argument(
        "--statsd",
        default="127.0.0.1:8125",
        metavar="HOST:PORT|off",
        help="where gtui listens for Gunicorn's StatsD metrics (default 127.0.0.1:8125)",
    )
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="sample containers through the Docker API only, as with a remote daemon",
    )


def _add_targets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="container name or id, or pid:N for a master on this host (default: all)",
    )


_COMPARE_COMMANDS = ("load", "compare", "ab")
COMMAND_NAMES = frozenset(
    {"ls", "snapshot", "watch", "demo", "recover", "scale", "retune", "reload"}
    | {"kill-worker", "revert", "advise", "sweep", *_COMPARE_COMMANDS}
)


def build_parsers(
    only: str | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The dashboard parser and one parser per subcommand.

    ``only`` (a command name, or "dashboard") skips the parsers whose modules
    are slow to import and that this run does not use: the dashboard starts
    without loading the load driver, the comparison or the sweep runner.
    """

    def wanted(*names: str) -> bool:
        return only is None or only in names

    description = "A terminal dashboard for tuning Gunicorn live."
    epilog = (
        "commands: ls, snapshot, watch, demo, scale, retune, reload, kill-worker, revert, "
        "recover, load, compare, ab, advise, sweep "
        "(run 'gtui COMMAND --help'). With no command, opens the dashboard on TARGETs "
        "(default: everything found). --read-only before or after a command disables actions."
    )
    dashboard = _Parser(prog="gtui", description=description, epilog=epilog)
    dashboard.add_argument("--version", action="version", version=f"gtui {__version__}")
    _add_targets(dashboard)
    _add_common(dashboard)
    dashboard.add_argument(
        "--refresh",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between samples (default 1.0; + and - change it live)",
    )
    dashboard.add_argument(
        "--export-dir",
        metavar="DIR",
        help="where the Compare screen's export (e) writes (default: the current directory)",
    )

    commands: dict[str, argparse.ArgumentParser] = {}

    ls = _Parser(prog="gtui ls", description="List the Gunicorn servers gtui can see.")
    _add_targets(ls)
    _add_common(ls)
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands["ls"] = ls

    snapshot = _Parser(
        prog="gtui snapshot",
        description="Sample once and print every instance (schema in the README).",
    )
    _add_targets(snapshot)
    _add_common(snapshot)
    snapshot.add_argument("--json", action="store_true", help="print one JSON document")
    snapshot.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="CPU is measured over this interval (default 1.0)",
    )
    commands["snapshot"] = snapshot

    watch = _Parser(
        prog="gtui watch",
        description="Sample every interval until stopped (Ctrl-C) and print one record per "
        "instance per sample: JSON lines with --jsonl (same schema as snapshot), else text.",
    )
    _add_targets(watch)
    _add_common(watch)
    watch.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    watch.add_argument("--interval", type=float, default=1.0, metavar="SECONDS")
    watch.add_argument("--count", type=int, default=0, help="stop after N samples (0: never)")
    watch.add_argument(
        "--duration", type=float, default=0.0, metavar="SECONDS", help="stop after this long"
    )
    commands["watch"] = watch

    demo = _Parser(
        prog="gtui demo",
        description="Serve the bundled sample app under a local Gunicorn, drive light "
        "traffic at it, and open the dashboard on it. Quitting stops everything.",
    )
    demo.add_argument("--workers", type=int, default=3, help="Gunicorn workers (default 3)")
    demo.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: free)")
    demo.add_argument("--no-traffic", action="store_true", help="do not send demo traffic")
    demo.add_argument(
        "--refresh", type=float, default=1.0, metavar="SECONDS", help="seconds between samples"
    )
    commands["demo"] = demo
    if wanted(*_CONTROL_HANDLERS):
        _add_control_parsers(commands)
    if wanted(*_COMPARE_COMMANDS):
        from gunicorn_tui.cli.compare_commands import add_compare_parsers

        add_compare_parsers(commands, _Parser)
    if wanted("advise"):
        from gunicorn_tui.cli.advice_commands import add_advice_parser

        add_advice_parser(commands, _Parser)
    if wanted("sweep"):
        from gunicorn_tui.cli.sweep_commands import add_sweep_parser

        add_sweep_parser(commands, _Parser)
    return dashboard, commands


def _add_control_parsers(commands: dict[str, argparse.ArgumentParser]) -> None:
    from gunicorn_tui.cli.control_commands import add_action_options, add_retune_options

    scale = _Parser(
        prog="gtui scale",
        description="Add or remove workers now (control socket, else TTIN/TTOU). "
        "A reload returns to the configured count.",
    )
    add_action_options(scale)
    scale.add_argument("change", metavar="+N|-N|=N", help="add, remove, or set the worker count")
    commands["scale"] = scale

    retune = _Parser(
        prog="gtui retune",
        description="Change settings the least disruptive way that works: in place (control "
        "socket, or a gtui config file and HUP), else by re-creating the container (rolled "
        "back if the new one does not serve). Prints the plan and asks first.",
    )
    add_action_options(retune)
    add_retune_options(retune)
    commands["retune"] = retune

    reload = _Parser(prog="gtui reload", description="Graceful reload (HUP), config checked first.")
    add_action_options(reload)
    commands["reload"] = reload

    kill = _Parser(prog="gtui kill-worker", description="Stop one worker; the master replaces it.")
    add_action_options(kill)
    kill.add_argument("pid", type=int, metavar="PID", help="the worker's host pid")
    commands["kill-worker"] = kill

    revert = _Parser(
        prog="gtui revert", description="Re-apply the configuration from before the last retune."
    )
    add_action_options(revert)
    commands["revert"] = revert

    recover = _Parser(
        prog="gtui recover",
        description="Finish or roll back actions that were interrupted (gtui killed, daemon "
        "gone), so each service runs on its old or its new config.",
    )
    recover.add_argument("--list", action="store_true", help="only list interrupted actions")
    recover.add_argument("--json", action="store_true", help="list them as JSON")
    recover.add_argument("--read-only", action="store_true", help="refuse to act")
    commands["recover"] = recover


def _handler(name: str) -> Handler:
    # Imported lazily: `gtui ls` should not pay for importing textual.
    if name == "ls":
        from gunicorn_tui.cli.inspect_commands import run_ls

        return run_ls
    if name == "snapshot":
        from gunicorn_tui.cli.inspect_commands import run_snapshot

        return run_snapshot
    if name == "watch":
        from gunicorn_tui.cli.watch_command import run_watch

        return run_watch
    if name == "demo":
        from gunicorn_tui.cli.dashboard_commands import run_demo

        return run_demo
    if name in ("load", "compare", "ab"):
        from gunicorn_tui.cli import compare_commands

        compare_handler: Handler = getattr(compare_commands, f"run_{name}")
        return compare_handler
    if name == "advise":
        from gunicorn_tui.cli.advice_commands import run_advise

        return run_advise
    if name == "sweep":
        from gunicorn_tui.cli.sweep_commands import run_sweep_command

        return run_sweep_command
    if name in _CONTROL_HANDLERS:
        from gunicorn_tui.cli import control_commands

        handler: Handler = getattr(control_commands, _CONTROL_HANDLERS[name])
        return handler
    from gunicorn_tui.cli.dashboard_commands import run_dashboard

    return run_dashboard


_CONTROL_HANDLERS = {
    "scale": "run_scale",
    "retune": "run_retune",
    "reload": "run_reload",
    "kill-worker": "run_kill_worker",
    "revert": "run_revert",
    "recover": "run_recover",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gtui`` console script."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # --read-only is global: accepted before the command too.
    read_only = False
    while args_list and args_list[0] == "--read-only":
        read_only = True
        args_list.pop(0)
    wanted = args_list[0] if args_list and args_list[0] in COMMAND_NAMES else "dashboard"
    dashboard, commands = build_parsers(only=wanted)
    if args_list and args_list[0] in commands:
        name = args_list.pop(0)
        namespace = commands[name].parse_args(args_list)
    else:
        name = "dashboard"
        namespace = dashboard.parse_args(args_list)
    if read_only:
        namespace.read_only = True
    prog = "gtui" if name == "dashboard" else f"gtui {name}"
    # The dashboard escapes on screen; every other command's output here.
    text_face = nullcontext() if name in ("dashboard", "demo") else escaped_output()
    try:
        with text_face:
            return _handler(name)(namespace)
    except TargetSyntaxError as error:
        return _fail(prog, str(error), EXIT_USAGE)
    except TargetNotFound as error:
        return _fail(prog, str(error), EXIT_TARGET_NOT_FOUND)
    except DockerUnreachable as error:
        return _fail(prog, str(error), EXIT_DOCKER_UNREACHABLE)
    except CliError as error:
        return _fail(prog, error.message, error.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE


def _fail(prog: str, message: str, code: int) -> int:
    # Messages name targets and quote servers' errors: shown, never sent.
    print(f"{prog}: error: {escape_controls(message)}", file=sys.stderr)
    return code

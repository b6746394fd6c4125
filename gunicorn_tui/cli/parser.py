"""The one parser tree of ``gtui`` and the table of its commands.

Every command is a row of :data:`COMMANDS`: its name, a one-line summary,
the function that declares its options, and where its handler lives
(imported only when that command runs, so ``gtui ls`` does not pay for
textual and the dashboard does not pay for the load driver). Shell
completion and ``gtui --help`` read the same tree.

This module and :mod:`gunicorn_tui.cli.options` import nothing heavy: the
tree is built on every start and on every Tab of shell completion.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from gunicorn_tui import __version__
from gunicorn_tui.cli.exit_codes import EXIT_USAGE
from gunicorn_tui.cli.options import (
    HelpFormatter,
    add_confirmation,
    add_consents,
    add_discovery,
    add_engines,
    add_export_dir,
    add_json,
    add_json_lines,
    add_load_source,
    add_output,
    add_read_only,
    add_refresh,
    add_retune_settings,
    add_sample_interval,
    add_stop_after,
    add_target,
    add_targets,
    add_warmup,
)

# Defaults stated in help texts; tests/core/test_cli_parsers.py checks they
# are the core's (importing the core here would load it on every start).
DEFAULT_WARMUP_S = 10.0
DEFAULT_MIN_MEASURED_S = 10.0
DEFAULT_LOAD_RATE_RPS = 10.0
DEFAULT_LOAD_DURATION_S = 10.0
DEFAULT_SEGMENT_S = 1.0  # the interleaved rounds' (compare.interleave.InterleaveSettings)
BUILTIN_PROFILES = ("mixed",)

EXIT_CODES = """\
exit codes:
  0    ok
  1    the operation failed (an action refused or rolled back, a load run with no response)
  2    usage: a bad option, value, profile or config file
  3    target not found (unknown, stopped, or without Gunicorn)
  4    Docker unreachable while a container target was named
  130  interrupted (Ctrl-C); what ran is still reported
Errors are one line on stderr."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


AddOptions = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """One ``gtui`` command: what it is called, what it does, its options,
    and ``module:function`` of its handler (``(Namespace) -> exit code``),
    imported only when the command runs (see ``main.handler_of``).

    ``escapes_own_output``: the command's face is the dashboard (which
    escapes outside text on screen) or a server; every other command's
    stdout and stderr are escaped by ``main``."""

    name: str
    summary: str
    add_options: AddOptions
    handler: str
    description: str = ""
    escapes_own_output: bool = False


# -- the dashboard and the headless views -------------------------------------


def _record(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--record",
        metavar="FILE",
        help="keep what the dashboard sees (frames, epochs, actions) in FILE (.gz: "
        "compressed), for `gtui replay FILE`",
    )


def _dashboard(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_discovery(parser)
    add_refresh(parser)
    add_export_dir(parser)
    _record(parser)


def _replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a recording made with --record")
    parser.add_argument(
        "--refresh",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between frames (default: the pace they were recorded at); "
        "p pauses, . steps one frame",
    )
    add_export_dir(parser)


def _ls(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_discovery(parser)
    add_json(parser, "the table")


def _snapshot(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_discovery(parser)
    add_json(parser, "one JSON document (schema gtui.snapshot/2, see the README)")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="CPU is measured over this interval, up to 60",
    )


def _watch(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_discovery(parser)
    add_json_lines(parser)
    add_sample_interval(parser, max_s=3600)
    parser.add_argument(
        "--count", type=int, default=0, metavar="N", help="stop after N samples (0: never)"
    )
    add_stop_after(parser)


def _agent(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_discovery(parser)
    add_sample_interval(parser, max_s=60)
    add_stop_after(parser)


def _demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=3, metavar="N", help="Gunicorn workers")
    parser.add_argument(
        "--port", type=int, default=0, metavar="PORT", help="port on 127.0.0.1 (0: a free one)"
    )
    parser.add_argument("--no-traffic", action="store_true", help="do not send demo traffic")
    add_refresh(parser)
    add_export_dir(parser)
    _record(parser)


def _serve(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    web = parser.add_argument_group("the web server")
    web.add_argument("--host", default="127.0.0.1", metavar="ADDRESS", help="address to listen on")
    web.add_argument("--port", type=int, default=8000, metavar="PORT", help="TCP port")
    web.add_argument(
        "--allow-actions",
        action="store_true",
        help="let the browser retune, scale, reload... (default: read-only)",
    )
    web.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach; a token is then required",
    )
    web.add_argument(
        "--token",
        metavar="TOKEN",
        help="the browser must present it (?token=, then a cookie); made and printed "
        "when --allow-remote is given without one",
    )
    web.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL browsers use, when it is not http://HOST:PORT (a proxy, a name)",
    )
    add_discovery(parser, host_option=False)
    add_refresh(parser)
    add_export_dir(parser)


# -- actions -------------------------------------------------------------------


def _action(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    add_confirmation(parser)
    add_consents(parser)
    add_json(parser, "the plan and its outcome (progress stays on stderr)")
    add_discovery(parser)
    # What a local gtui passes when it has this one act on a master here
    # (control/remote_host.py): not for people, so not in --help.
    parser.add_argument("--agent-plan", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--expect-plan", metavar="DIGEST", help=argparse.SUPPRESS)
    parser.add_argument("--expect-master", metavar="PID:TICKS", help=argparse.SUPPRESS)


def _scale(parser: argparse.ArgumentParser) -> None:
    _action(parser)
    parser.add_argument(
        "change", metavar="+N|-N|=N", help="add N, remove N, or set the worker count to N"
    )


def _retune(parser: argparse.ArgumentParser) -> None:
    _action(parser)
    add_retune_settings(parser)


def _kill_worker(parser: argparse.ArgumentParser) -> None:
    _action(parser)
    parser.add_argument("pid", type=int, metavar="PID", help="the worker's host pid")


def _persist(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    add_confirmation(parser)
    add_json(parser, "the drift, the diff and what was written")
    add_discovery(parser)


def _recover(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="only list interrupted actions")
    add_json(parser, "the list of interrupted actions")
    engines = parser.add_argument_group(
        "engines", "each action is settled on the engine its journal was written for"
    )
    add_engines(engines, verb="settle actions on", targets=False)


# -- load and measurement ----------------------------------------------------------


def _load(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        metavar="URL|TARGET",
        help="a URL (its path and query are what is requested), a container name or id, "
        "or pid:N (its bind address, path /); may be left out when --url or the "
        "profile's base_url says where",
    )
    shape = parser.add_argument_group("what is sent")
    shape.add_argument(
        "--profile",
        metavar="NAME|FILE",
        help="a load profile (TOML file, or a built-in name: "
        f"{', '.join(BUILTIN_PROFILES)}) for a mix of requests; its values are the "
        "defaults of the options below",
    )
    shape.add_argument(
        "--url", metavar="URL", help="base URL, overriding TARGET's address and the profile's"
    )
    shape.add_argument(
        "--path",
        action="append",
        metavar="PATH",
        help="GET PATH (with its query) instead of the URL's path or the profile's requests; "
        "repeatable, equal weights; {n} is a random number",
    )
    pacing = parser.add_argument_group("pacing and bounds")
    exclusive = pacing.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--rate",
        type=float,
        metavar="RPS",
        help="open loop: requests per second, whatever the server's pace "
        f"(default: the profile's, else {DEFAULT_LOAD_RATE_RPS:g})",
    )
    exclusive.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="closed loop: N clients sending back to back",
    )
    pacing.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="send for this long, up to 3600 (default: the profile's, else "
        f"{DEFAULT_LOAD_DURATION_S:g} unless --requests bounds the run)",
    )
    pacing.add_argument(
        "--requests",
        type=int,
        metavar="N",
        help="stop after N requests (with or without --duration)",
    )
    pacing.add_argument(
        "--ramp-up",
        type=float,
        metavar="SECONDS",
        help="grow the rate linearly from 0 over this long (default: the profile's, else 0: "
        "no ramp)",
    )
    pacing.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="per request, from send to the last byte (default: the profile's, else 10)",
    )
    pacing.add_argument(
        "--connections",
        type=int,
        metavar="N",
        help="connection limit, and the most requests in flight (default: the profile's, else 64)",
    )
    pacing.add_argument(
        "--seed", type=int, metavar="N", help="seed for the request mix and {n} values"
    )
    parser.add_argument(
        "--insecure", action="store_true", help="accept any TLS certificate (self-signed)"
    )
    add_json(parser, "the summary")
    parser.add_argument("--quiet", action="store_true", help="no per-second progress on stderr")
    add_discovery(parser)


def _measured(parser: argparse.ArgumentParser, *, profile_required: bool) -> None:
    add_target(parser)
    add_load_source(parser, required=profile_required)
    add_warmup(parser, default_s=DEFAULT_WARMUP_S)
    add_discovery(parser)


def _output_format(parser: argparse.ArgumentParser) -> None:
    add_json(parser)
    parser.add_argument(
        "--markdown", action="store_true", help="print Markdown on stdout (the default)"
    )


def _compare(parser: argparse.ArgumentParser) -> None:
    _measured(parser, profile_required=False)
    parser.add_argument(
        "--duration", type=float, default=30.0, metavar="SECONDS", help="measure for this long"
    )
    parser.add_argument(
        "--from",
        dest="from_file",
        metavar="FILE",
        help="compare epochs of a `gtui watch --jsonl` recording instead of measuring",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help="with --from: the epochs to compare (default: the last two)",
    )
    parser.add_argument(
        "--min-measured",
        type=float,
        default=DEFAULT_MIN_MEASURED_S,
        metavar="SECONDS",
        help="an epoch shorter than this (after warm-up) is not compared",
    )
    _output_format(parser)


def _interleaving(
    parser: argparse.ArgumentParser, cap_s: float | None, cap_text: str, in_turn: tuple[str, str]
) -> None:
    group = parser.add_argument_group(
        "interleaved rounds (when every change is a scale or a HUP reload)"
    )
    group.add_argument(
        "--cap",
        type=float,
        default=cap_s,
        metavar="SECONDS",
        help="stop at this many seconds if not conclusive before"
        + (f" ({cap_text})" if cap_text else "")
        + "; the first look comes after 3 rounds (about 13 s for two configs); small effects "
        "need longer caps: benchmarks/verdict_power.py and verdict_truth.py measure how long",
    )
    group.add_argument(
        "--segment",
        type=float,
        default=DEFAULT_SEGMENT_S,
        metavar="SECONDS",
        help="measured seconds of each config in each round: short rounds answer sooner "
        "(benchmarks/verdict_power.py)",
    )
    group.add_argument(in_turn[0], action="store_true", help=in_turn[1])


def _ab(parser: argparse.ArgumentParser) -> None:
    _measured(parser, profile_required=True)
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="with one switch: measurement of each side, up to 600",
    )
    _interleaving(
        parser,
        60.0,
        "",
        (
            "--one-switch",
            "measure before, switch once, measure after (the way for re-creates) "
            "instead of interleaving",
        ),
    )
    add_confirmation(parser, dry_run=False)
    add_retune_settings(parser)
    _output_format(parser)


def _advise(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="observe for this long, up to 600",
    )
    add_json(parser, "the advice")
    add_discovery(parser)


def _sweep(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    grid = parser.add_argument_group("the grid")
    grid.add_argument("--workers", required=True, metavar="N,N,...", help="worker counts to try")
    grid.add_argument(
        "--worker-class", default="sync", metavar="CLASS,...", help="worker classes to try"
    )
    grid.add_argument("--threads", metavar="N,N,...", help="thread counts to try with gthread")
    add_load_source(parser, required=True)
    add_warmup(parser, default_s=5.0)
    parser.add_argument(
        "--measure",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="with --in-turn (or a re-create among the configs): measurement of each "
        "config, up to 600",
    )
    parser.add_argument(
        "--keep-winner", action="store_true", help="end on the best config, not the original"
    )
    _interleaving(
        parser,
        None,
        "default: 30 s per config, at least 60",
        (
            "--in-turn",
            "measure each config once, in turn (--warmup, --measure), instead of "
            "interleaving them in rounds",
        ),
    )
    add_json(parser, "the ranked result")
    add_output(parser, ".json, .md, .svg: the plot")
    # The options of before --output (still accepted, no longer shown).
    parser.add_argument("--markdown", dest="markdown_file", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--svg", dest="svg_file", metavar="FILE", help=argparse.SUPPRESS)
    add_confirmation(parser, dry_run=False)
    add_discovery(parser)


# -- a look inside a worker ---------------------------------------------------------


def _dump(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    parser.add_argument(
        "--worker", type=int, metavar="PID", help="this worker's host pid (default: every worker)"
    )
    parser.add_argument("--native", action="store_true", help="also C frames of native extensions")
    parser.add_argument(
        "--locals", action="store_true", help="also each frame's local variables (may show secrets)"
    )
    add_json(parser, "the stacks")
    add_discovery(parser)


def _profile(parser: argparse.ArgumentParser) -> None:
    add_target(parser)
    parser.add_argument(
        "--worker", type=int, metavar="PID", required=True, help="the worker's host pid"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="sample for this long, up to 600",
    )
    parser.add_argument("--rate", type=int, default=100, metavar="HZ", help="samples per second")
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="the flame graph, an .svg file (default: gtui-profile-PID-TIME.svg here)",
    )
    add_discovery(parser)


# -- settings and the shell ---------------------------------------------------------


def _config(parser: argparse.ArgumentParser) -> None:
    add_json(parser, "the effective settings")
    parser.add_argument("--path", action="store_true", help="print only the config file's path")
    parser.add_argument(
        "--init",
        action="store_true",
        help="write a commented config file with the defaults, if there is none",
    )


def _completion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell")


COMMANDS: tuple[Command, ...] = (
    Command(
        "dashboard",
        "the dashboard (what `gtui [TARGET...]` opens)",
        _dashboard,
        "gunicorn_tui.cli.dashboard_commands:run_dashboard",
        "Open the dashboard on TARGETs (default: everything found). `gtui TARGET...` "
        "is short for `gtui dashboard TARGET...`.",
        escapes_own_output=True,
    ),
    Command(
        "ls",
        "list the Gunicorn servers gtui can see",
        _ls,
        "gunicorn_tui.cli.inspect_commands:run_ls",
    ),
    Command(
        "snapshot",
        "sample once and print every instance",
        _snapshot,
        "gunicorn_tui.cli.inspect_commands:run_snapshot",
        "Sample once and print every instance (schema in the README).",
    ),
    Command(
        "agent",
        "stream samples to a local gtui (it runs this over ssh)",
        _agent,
        "gunicorn_tui.cli.agent_command:run_agent",
        "What a local gtui runs on a remote host over SSH (`gtui -H ssh://HOST`): samples "
        "this host as gtui does and streams the `watch --jsonl` records as deltas on "
        "stdout (zlib). Not for use by hand. Ends when stdin closes.",
    ),
    Command(
        "watch",
        "print one record per instance per sample until stopped",
        _watch,
        "gunicorn_tui.cli.watch_command:run_watch",
        "Sample every interval until stopped (Ctrl-C) and print one record per instance "
        "per sample: JSON lines with --jsonl (same schema as snapshot), else text.",
    ),
    Command(
        "demo",
        "the dashboard on a bundled sample app under a local Gunicorn",
        _demo,
        "gunicorn_tui.cli.dashboard_commands:run_demo",
        "Serve the bundled sample app under a local Gunicorn on 127.0.0.1, drive light "
        "traffic at it, and open the dashboard on it. Quitting stops everything.",
        escapes_own_output=True,
    ),
    Command(
        "replay",
        "the dashboard on a recorded session, with a time cursor",
        _replay,
        "gunicorn_tui.cli.dashboard_commands:run_replay",
        "Open the dashboard on a session recorded with `gtui --record FILE`: the same "
        "frames at their pace, the same epochs and Compare results; the status line "
        "shows the frame's time and its place. Nothing can act on a server from here.",
        escapes_own_output=True,
    ),
    Command(
        "serve",
        "the dashboard in a browser, for a review (read-only)",
        _serve,
        "gunicorn_tui.cli.serve_command:run_serve",
        "Serve the dashboard through textual-serve so a review can watch a tuning "
        "session in a browser: on 127.0.0.1, read-only unless --allow-actions. Another "
        "address needs --allow-remote and then a token. Needs the 'serve' extra: "
        "pip install 'gunicorn-tui[serve]'.",
        escapes_own_output=True,
    ),
    Command(
        "scale",
        "add or remove workers now",
        _scale,
        "gunicorn_tui.cli.control_commands:run_scale",
        "Add or remove workers now (control socket, else TTIN/TTOU). A reload returns "
        "to the configured count. HOST/pid:N (with -H ssh://HOST): a master outside "
        "containers there, planned and run by the gtui on HOST over SSH.",
    ),
    Command(
        "retune",
        "change settings the least disruptive way that works",
        _retune,
        "gunicorn_tui.cli.control_commands:run_retune",
        "Change settings the least disruptive way that works: in place (control socket, "
        "or a gtui config file and HUP), else by re-creating the container (rolled back "
        "if the new one does not serve). Prints the plan and asks first.",
    ),
    Command(
        "reload",
        "graceful reload (HUP), config checked first",
        _action,
        "gunicorn_tui.cli.control_commands:run_reload",
    ),
    Command(
        "kill-worker",
        "stop one worker; the master replaces it",
        _kill_worker,
        "gunicorn_tui.cli.control_commands:run_kill_worker",
    ),
    Command(
        "revert",
        "re-apply the configuration from before the last retune",
        _action,
        "gunicorn_tui.cli.control_commands:run_revert",
    ),
    Command(
        "persist",
        "write the running config where it lives (Compose file, gunicorn.conf.py)",
        _persist,
        "gunicorn_tui.cli.persist_command:run_persist",
        "Keep the running configuration (after a retune or a sweep) where the config "
        "lives, so the next `docker compose up` or restart does not bring the old one "
        "back: the Compose file named by the container's labels (the service's command "
        "or GUNICORN_CMD_ARGS, comments and formatting kept), or the gunicorn.conf.py a "
        "host master reads. For a plain `docker run` it prints the flags to use (exit 1: "
        "nothing written). Shows the diff and writes only after confirmation, only files "
        "you own, never through a symlink, and reads them back.\n\n"
        "  gtui persist shop/web --dry-run\n"
        "  gtui persist web --yes",
    ),
    Command(
        "recover",
        "finish or roll back interrupted actions and sweeps",
        _recover,
        "gunicorn_tui.cli.control_commands:run_recover",
        "Finish or roll back actions that were interrupted (gtui killed, daemon gone), "
        "so each service runs on its old or its new config; restore killed sweeps. "
        "With -H ssh://HOST, also the actions the gtui on HOST journaled (on its masters "
        "outside containers), settled by that gtui over SSH.",
    ),
    Command(
        "load",
        "send a bounded load to a URL or an instance and report",
        _load,
        "gunicorn_tui.cli.load_command:run_load",
        "Send a bounded load and report throughput, errors and latency (measured from "
        "each request's due time, so a slow server cannot hide behind a waiting client).\n\n"
        "  gtui load http://127.0.0.1:8000/search?q=x --rate 20 --duration 30\n"
        "  gtui load web --path /health --concurrency 4 --requests 500\n"
        "  gtui load http://127.0.0.1:8000 --profile mixed\n\n"
        "A URL is requested as given (path and query), at --rate for --duration, with "
        "no ramp unless --ramp-up says so. A profile is used only when named.",
    ),
    Command(
        "compare",
        "measure the current epoch, or compare two epochs of a recording",
        _compare,
        "gunicorn_tui.cli.compare_commands:run_compare",
        "Measure TARGET's current epoch (under --profile) and print its figures; if its "
        "configuration changes meanwhile, compare before and after. With --from, compare "
        "the last two epochs of a `gtui watch --jsonl` recording.",
    ),
    Command(
        "ab",
        "guided A/B: measure, retune, measure again, compare",
        _ab,
        "gunicorn_tui.cli.compare_commands:run_ab",
        "Guided A/B: measure under --profile, retune, warm up, measure again under the "
        "same profile, and compare. Asks before retuning (--yes skips). A Compose "
        "PROJECT/SERVICE is measured as a whole: load over every replica, each switch "
        "rolled over the replicas.",
    ),
    Command(
        "advise",
        "observe an instance and print tuning advice",
        _advise,
        "gunicorn_tui.cli.advice_commands:run_advise",
        "Observe TARGET for --duration seconds (under whatever traffic it gets) and print "
        "tuning advice, each item with its evidence and the retune it prepares.",
    ),
    Command(
        "sweep",
        "try a grid of configs under the same load and rank them",
        _sweep,
        "gunicorn_tui.cli.sweep_commands:run_sweep_command",
        "Try each combination of --workers, --worker-class (and --threads for gthread) "
        "under the same load, rank them, and restore the original config. A Compose "
        "PROJECT/SERVICE is measured as a whole (settings per replica).",
    ),
    Command(
        "dump",
        "print a worker's Python stack (py-spy)",
        _dump,
        "gunicorn_tui.cli.worker_inspect_commands:run_dump",
        "Print the Python stack of every thread of TARGET's workers (or of --worker PID) "
        "with py-spy: what a busy or stuck worker is doing. Works for workers in "
        "containers (by host pid) when gtui runs as root. Needs ptrace.",
    ),
    Command(
        "profile",
        "record a flame graph (SVG) of a worker (py-spy)",
        _profile,
        "gunicorn_tui.cli.worker_inspect_commands:run_profile",
        "Sample a worker's Python stack --rate times a second for --duration seconds "
        "(without pausing it) and write a flame graph (SVG) for a review.",
    ),
    Command(
        "config",
        "print the effective settings and where each comes from",
        _config,
        "gunicorn_tui.cli.config_command:run_config",
        "Print the effective settings (refresh, StatsD, export directory, read-only, "
        "theme) and where each comes from: the command line, the config file, or the "
        "default. The config file is $XDG_CONFIG_HOME/gtui/config.toml (else "
        "~/.config/gtui/config.toml), or the one --config or $GTUI_CONFIG names.",
    ),
    Command(
        "completion",
        "print a shell completion script (bash, zsh, fish)",
        _completion,
        "gunicorn_tui.cli.config_command:run_completion",
        "Print the completion script for SHELL (argcomplete). For example:\n"
        "  bash: gtui completion bash > ~/.local/share/bash-completion/completions/gtui\n"
        "  zsh:  gtui completion zsh > ~/.zfunc/_gtui   (with fpath+=~/.zfunc)\n"
        "  fish: gtui completion fish > ~/.config/fish/completions/gtui.fish",
    ),
)

COMMAND_NAMES = frozenset(command.name for command in COMMANDS)
# Options of the root parser that take a value (for finding the command word).
ROOT_VALUE_OPTIONS = ("--log-file", "--config")
ROOT_FLAGS = ("--read-only", "--no-read-only")


def build_parser() -> Parser:
    """The whole ``gtui`` parser tree."""
    commands = ", ".join(c.name for c in COMMANDS if c.name != "dashboard")
    root = Parser(
        prog="gtui",
        description="A terminal dashboard for tuning Gunicorn live, in Docker containers "
        "and on the host.\n\n"
        "  gtui                     the dashboard on everything found\n"
        "  gtui web pid:1234        the dashboard on these targets\n"
        "  gtui COMMAND --help      a command's options",
        epilog=f"{EXIT_CODES}\n\nMore: the README, and `gtui COMMAND --help` for {commands}.",
        formatter_class=HelpFormatter,
    )
    root.add_argument("--version", action="version", version=f"gtui {__version__}")
    add_read_only(root, root=True)
    root.add_argument(
        "--log-file",
        metavar="PATH",
        help="append a debug log here: discovery, sampling, actions (default: none)",
    )
    root.add_argument(
        "--config",
        metavar="FILE",
        help="read settings from FILE instead of $GTUI_CONFIG or $XDG_CONFIG_HOME/gtui/config.toml",
    )
    subparsers = root.add_subparsers(
        dest="command", metavar="COMMAND", title="commands", parser_class=Parser
    )
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=command.description
            or command.summary[0].upper() + command.summary[1:] + ".",
            epilog=EXIT_CODES,
            formatter_class=HelpFormatter,
        )
        command.add_options(sub)
        add_read_only(sub)
    return root


def parse(root: argparse.ArgumentParser, words: Sequence[str]) -> argparse.Namespace:
    """Parse ``words``; an unknown option is reported by the command it was
    given to (``gtui load: error: ...``), not by the root."""
    args, extras = root.parse_known_args(words)
    if extras:
        action = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices.get(args.command, root)
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def command_named(name: str) -> Command:
    """The row of COMMANDS called ``name``."""
    return next(command for command in COMMANDS if command.name == name)


def with_command_word(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``dashboard`` put where the command word would be, when
    it has none (``gtui web`` is ``gtui dashboard web``)."""
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        if word in ROOT_FLAGS:
            index += 1
        elif word in ROOT_VALUE_OPTIONS:
            index += 2
        elif any(word.startswith(option + "=") for option in ROOT_VALUE_OPTIONS):
            index += 1
        else:
            break
    if index < len(words) and (words[index] in COMMAND_NAMES or words[index] in (
        "-h", "--help", "--version")):  # fmt: skip
        return words
    if index > len(words):  # a root option missing its value: argparse says so
        return words
    return [*words[:index], "dashboard", *words[index:]]

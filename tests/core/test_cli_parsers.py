"""One parser tree: every command in it, every option explained, the same
flags meaning the same thing everywhere, exit codes in ``gtui --help``,
completion from the same tree, and a dashboard start that stays light."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gunicorn_tui.cli.main import main
from gunicorn_tui.cli.parser import (
    BUILTIN_PROFILES,
    COMMAND_NAMES,
    COMMANDS,
    DEFAULT_MIN_MEASURED_S,
    DEFAULT_WARMUP_S,
    build_parser,
    with_command_word,
)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    root = build_parser()
    action = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS]


def test_every_command_is_in_the_tree() -> None:
    assert set(_subparsers()) == COMMAND_NAMES
    assert {c.name for c in COMMANDS} == COMMAND_NAMES


@pytest.mark.parametrize("name", sorted(COMMAND_NAMES))
def test_every_option_and_argument_has_help(name: str) -> None:
    parser = _subparsers()[name]
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"gtui {name} {action.option_strings or action.dest}: no help"
    text = parser.format_help()
    # A value option says its unit or kind through its metavar.
    for action in _options(parser):
        if action.nargs == 0:
            continue
        assert action.metavar, f"gtui {name} {action.option_strings}: no metavar"
    # Numeric defaults are printed.
    for action in _options(parser):
        if isinstance(action.default, int | float) and not isinstance(action.default, bool):
            assert f"default: {action.default}" in " ".join(text.split()), (
                f"gtui {name} {action.option_strings}: default not shown"
            )


def test_the_defaults_stated_are_the_cores() -> None:
    from gunicorn_tui.cli import options, parser
    from gunicorn_tui.compare.epochs import DEFAULT_WARMUP_S as core_warmup
    from gunicorn_tui.compare.interleave import InterleaveSettings
    from gunicorn_tui.compare.summary import DEFAULT_MIN_MEASURED_S as core_min
    from gunicorn_tui.load import cli as load_cli
    from gunicorn_tui.load.profile import builtin_profile_names
    from gunicorn_tui.monitor.monitor import DEFAULT_STATSD_ADDRESS
    from gunicorn_tui.sweep.runner import SweepSettings

    assert core_warmup == DEFAULT_WARMUP_S
    assert core_min == DEFAULT_MIN_MEASURED_S
    assert builtin_profile_names() == BUILTIN_PROFILES
    assert parser.DEFAULT_LOAD_RATE_RPS == load_cli.DEFAULT_RATE_RPS
    assert parser.DEFAULT_LOAD_DURATION_S == load_cli.DEFAULT_DURATION_S
    assert InterleaveSettings.segment_s == parser.DEFAULT_SEGMENT_S
    host, port = DEFAULT_STATSD_ADDRESS
    assert f"{host}:{port}" == options.DEFAULT_STATSD
    sweep = _subparsers()["sweep"]
    defaults = {a.dest: a.default for a in sweep._actions}
    assert defaults["warmup"] == SweepSettings().warmup_s
    assert defaults["measure"] == SweepSettings().measure_s


def test_json_is_a_flag_everywhere_and_files_go_to_output() -> None:
    with_json = []
    for name, parser in _subparsers().items():
        for action in parser._actions:
            if "--json" in action.option_strings:
                assert action.nargs == 0, f"gtui {name} --json takes a value"
                with_json.append(name)
            if "--output" in action.option_strings:
                assert action.metavar == "FILE"
    everywhere = {
        "ls",
        "snapshot",
        "watch",
        "load",
        "compare",
        "ab",
        "advise",
        "sweep",
        "dump",
        "config",
        "recover",
        "scale",
        "retune",
        "reload",
        "kill-worker",
        "revert",
    }
    assert everywhere <= set(with_json)


def test_statsd_and_read_only_are_the_same_in_every_command() -> None:
    seen: dict[str, set[tuple[object, str]]] = {"--statsd": set(), "--read-only": set()}
    statsd_commands = []
    for name, parser in _subparsers().items():
        for action in parser._actions:
            for flag in seen:
                if flag in action.option_strings:
                    seen[flag].add((action.default, action.help or ""))
                    if flag == "--statsd":
                        statsd_commands.append(name)
    assert len(seen["--statsd"]) == 1
    assert len(seen["--read-only"]) == 1
    # Every command that samples servers has it, measurements included.
    assert {"dashboard", "ls", "compare", "ab", "advise", "sweep", "load"} <= set(statsd_commands)


def test_exit_codes_are_in_gtui_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for line in ("0    ok", "2    usage", "3    target not found", "4    Docker unreachable"):
        assert line in out
    for name in COMMAND_NAMES - {"dashboard"}:
        assert f"    {name} " in out


def test_load_has_one_tree_with_ramp_up(capsys: pytest.CaptureFixture[str]) -> None:
    # Before: `gtui load --ramp-up` was unknown to the outer parser.
    args = build_parser().parse_args(
        ["load", "http://127.0.0.1:1/x", "--ramp-up", "2", "--rate", "3", "--duration", "4"]
    )
    assert (args.ramp_up, args.rate, args.duration) == (2.0, 3.0, 4.0)


def test_the_command_word_is_found_after_root_options() -> None:
    assert with_command_word([]) == ["dashboard"]
    assert with_command_word(["web", "api-1"]) == ["dashboard", "web", "api-1"]
    assert with_command_word(["--read-only", "ls"]) == ["--read-only", "ls"]
    assert with_command_word(["--log-file", "x.log", "web"]) == [
        "--log-file", "x.log", "dashboard", "web"
    ]  # fmt: skip
    assert with_command_word(["--refresh", "2"]) == ["dashboard", "--refresh", "2"]
    assert with_command_word(["--help"]) == ["--help"]
    args = build_parser().parse_args(with_command_word(["--read-only", "retune", "web"]))
    assert args.read_only is True  # the subcommand does not reset it


def _complete(line: str, tmp_path: Path) -> list[str]:
    out = tmp_path / "completions"
    env = dict(os.environ, COMP_LINE=line, COMP_POINT=str(len(line)), _ARGCOMPLETE="1",
               _ARGCOMPLETE_STDOUT_FILENAME=str(out))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "gunicorn_tui"], env=env, timeout=60, check=True,
        capture_output=True,
    )  # fmt: skip
    return sorted(out.read_text().replace("\x0b", " ").split())


def test_completion_comes_from_the_same_tree(tmp_path: Path) -> None:
    assert _complete("gtui lo", tmp_path) == ["load"]
    assert _complete("gtui load --ra", tmp_path) == ["--ramp-up", "--rate"]
    assert "fish" in _complete("gtui completion ", tmp_path)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", "completion", shell],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "_ARGCOMPLETE" in done.stdout and "gtui" in done.stdout


def test_bash_completion_script_completes_in_bash(tmp_path: Path) -> None:
    # The script as bash loads it, its function called as bash calls it on Tab.
    script = subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", "completion", "bash"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    gtui = tmp_path / "gtui"
    gtui.write_text(f'#!/bin/sh\nexec {sys.executable} -m gunicorn_tui "$@"\n')
    gtui.chmod(0o755)
    probe = (
        f"{script}\n"
        'COMP_LINE="gtui sn"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(gtui sn); COMP_CWORD=1\n'
        "_python_argcomplete gtui sn gtui\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}"),
    )  # fmt: skip
    assert done.stdout.split() == ["snapshot"], done.stdout + done.stderr


def test_dashboard_start_does_not_load_the_load_driver_or_sweeps() -> None:
    # What `gtui TARGET` imports before it opens the UI: not httpx (the load
    # driver's client), the comparison or the sweep runner.
    probe = (
        "import sys\n"
        "from gunicorn_tui.cli.parser import build_parser\n"
        "build_parser().parse_args(['dashboard', 'some-target'])\n"
        "from gunicorn_tui.cli.main import handler_of\n"
        "handler_of('dashboard')\n"
        "heavy = ('httpx', 'gunicorn_tui.load.driver', 'gunicorn_tui.compare.comparison',"
        " 'gunicorn_tui.sweep.runner', 'textual')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_help_of_every_command_works() -> None:
    for name in sorted(COMMAND_NAMES):
        done = subprocess.run(
            [sys.executable, "-m", "gunicorn_tui", name, "--help"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"gtui {name}" in done.stdout
        assert "exit codes:" in done.stdout


def test_a_usage_error_is_one_line_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", "load", "--duraton", "3"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("gtui load: error: unrecognized arguments: --duraton")

"""The ``gtui`` command: parse, apply the config file, dispatch, map errors
to exit codes.

Exit codes: 0 ok, 1 failure of the operation, 2 usage, 3 target not found,
4 Docker unreachable while a container target was named, 130 interrupted.
User errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

from gunicorn_tui.cli.effective import apply_settings
from gunicorn_tui.cli.exit_codes import (
    EXIT_DOCKER_UNREACHABLE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_TARGET_NOT_FOUND,
    EXIT_USAGE,
    CliError,
)
from gunicorn_tui.cli.parser import build_parser, command_named, parse, with_command_word
from gunicorn_tui.cli.safe_output import escaped_output
from gunicorn_tui.monitor.monitor import DockerUnreachable
from gunicorn_tui.monitor.targets import TargetNotFound, TargetSyntaxError
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.user_config.config_file import ConfigError, load_config

Handler = Callable[[argparse.Namespace], int]


def handler_of(name: str) -> Handler:
    """The function that runs command ``name``, imported now."""
    module_name, _, function = command_named(name).handler.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler


def _complete(parser: argparse.ArgumentParser) -> None:
    # Only when the shell asks (argcomplete's environment variable is set):
    # it prints the candidates and exits.
    import os

    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gtui`` console script."""
    words = with_command_word(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    _complete(parser)
    args = parse(parser, words)
    name = args.command
    prog = "gtui" if name == "dashboard" else f"gtui {name}"
    # Outside text in a command's output is escaped here (shown, never sent),
    # unless the command escapes its own (the dashboard does on screen).
    text_face = nullcontext() if command_named(name).escapes_own_output else escaped_output()
    try:
        try:
            config = load_config(Path(args.config).expanduser() if args.config else None)
        except ConfigError as error:
            raise CliError(str(error), EXIT_USAGE) from error
        args.settings = apply_settings(args, config)
        if args.log_file:
            from gunicorn_tui.debug_log import DebugLogError, start_debug_log

            try:
                start_debug_log(Path(args.log_file).expanduser(), command=name, argv=words)
            except DebugLogError as error:
                raise CliError(str(error), EXIT_USAGE) from error
        with text_face:
            return handler_of(name)(args)
    except TargetSyntaxError as error:
        return _fail(prog, str(error), EXIT_USAGE)
    except TargetNotFound as error:
        return _fail(prog, str(error), EXIT_TARGET_NOT_FOUND)
    except DockerUnreachable as error:
        return _fail(prog, str(error), EXIT_DOCKER_UNREACHABLE)
    except CliError as error:
        return _fail(prog, error.message, error.exit_code)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE


def _fail(prog: str, message: str, code: int) -> int:
    # Messages name targets and quote servers' errors: shown, never sent.
    print(f"{prog}: error: {escape_controls(message)}", file=sys.stderr)
    return code

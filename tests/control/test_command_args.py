"""Finding and rewriting Gunicorn's arguments in commands and GUNICORN_CMD_ARGS."""

from __future__ import annotations

import pytest

from gunicorn_tui.control.planning.command_args import (
    OPTION_FLAGS,
    ArgsPlace,
    env_list_get,
    env_list_set,
    locate_arguments,
    rewrite_arguments,
    rewrite_command,
    rewrite_env_arguments,
)


def test_option_flags_match_the_installed_gunicorn() -> None:
    from gunicorn.config import KNOWN_SETTINGS

    cli = {setting.name: tuple(setting.cli or ()) for setting in KNOWN_SETTINGS}
    for name, flags in OPTION_FLAGS.items():
        assert set(flags) == set(cli[name]), name


@pytest.mark.parametrize(
    ("args", "changes", "expected"),
    [
        (["-w", "2", "app:app"], {"workers": 8}, ["-w", "8", "app:app"]),
        (["--workers=2", "app:app"], {"workers": 8}, ["--workers=8", "app:app"]),
        (["-w2", "app:app"], {"workers": 8}, ["-w8", "app:app"]),
        (["-w", "2", "-w", "3", "app:app"], {"workers": 8}, ["-w", "8", "app:app"]),
        (["app:app"], {"workers": 8}, ["--workers", "8", "app:app"]),
        (
            ["-k", "sync", "app:app"],
            {"worker_class": "gthread", "threads": 4},
            ["--threads", "4", "-k", "gthread", "app:app"],
        ),
        (["app:app"], {"preload_app": True}, ["--preload", "app:app"]),
        (["--preload", "app:app"], {"preload_app": False}, ["app:app"]),
        (["--preload", "app:app"], {"preload_app": True}, ["--preload", "app:app"]),
        (
            ["--timeout", "30", "--", "-t", "5"],
            {"timeout": 60},
            ["--timeout", "60", "--", "-t", "5"],
        ),
        (["--keep-alive", "2", "app"], {"keepalive": 10}, ["--keep-alive", "10", "app"]),
    ],
)
def test_rewrite_arguments(
    args: list[str], changes: dict[str, object], expected: list[str]
) -> None:
    assert list(rewrite_arguments(args, changes)) == expected  # type: ignore[arg-type]


def test_rewritten_arguments_parse_to_the_new_values() -> None:
    from gunicorn_tui.settings.command_line import parse_arguments

    args = rewrite_arguments(
        ["-w3", "--timeout=5", "-b", "0.0.0.0:80", "app:app"],
        {"workers": 7, "timeout": 45, "worker_class": "gthread", "max_requests": 100},
    )
    parsed = parse_arguments(args)
    assert parsed.settings["workers"] == 7 and parsed.settings["timeout"] == 45
    assert parsed.settings["worker_class"] == "gthread" and parsed.settings["max_requests"] == 100
    assert parsed.app_module == "app:app" and parsed.warnings == ()


def test_locate_direct_and_wrapped_commands() -> None:
    direct = locate_arguments(None or [], ["gunicorn", "-w", "2", "app:app"])
    assert direct is not None and direct.place is ArgsPlace.COMMAND
    assert (direct.start, direct.end, direct.arguments) == (1, 4, ("-w", "2", "app:app"))

    tini = locate_arguments(["tini", "--"], ["python", "-m", "gunicorn", "-w", "2", "app"])
    assert tini is not None and tini.arguments == ("-w", "2", "app") and tini.start == 5

    env = locate_arguments(["env", "A=1", "gunicorn"], ["app"])
    assert env is not None and env.arguments == ("app",)


def test_the_entrypoint_and_cmd_split_survives_a_rewrite() -> None:
    entrypoint, cmd = ["gunicorn", "-b", "0.0.0.0:80"], ["-w", "2", "app:app"]
    location = locate_arguments(entrypoint, cmd)
    assert location is not None
    new_entrypoint, new_cmd = rewrite_command(entrypoint, cmd, location, {"workers": 5})
    assert new_entrypoint == ("gunicorn", "-b", "0.0.0.0:80")
    assert new_cmd == ("-w", "5", "app:app")

    new_entrypoint, new_cmd = rewrite_command(entrypoint, cmd, location, {"timeout": 9})
    assert new_entrypoint == ("gunicorn", "--timeout", "9", "-b", "0.0.0.0:80")
    assert new_cmd == ("-w", "2", "app:app")


def test_a_shell_script_keeps_its_other_words_and_quotes() -> None:
    script = 'cd /srv && exec gunicorn -w 2 -b "0.0.0.0:$PORT" app:app; echo done'
    location = locate_arguments(["sh", "-c"], [script])
    assert location is not None and location.place is ArgsPlace.SHELL_SCRIPT
    assert location.arguments == ("-w", "2", "-b", "0.0.0.0:$PORT", "app:app")
    _, cmd = rewrite_command(["sh", "-c"], [script], location, {"workers": 6, "timeout": 12})
    assert cmd == (
        'cd /srv && exec gunicorn --timeout 12 -w 6 -b "0.0.0.0:$PORT" app:app; echo done',
    )


def test_cmd_passed_through_an_entrypoint_script_is_inferred_or_verified() -> None:
    entrypoint, cmd = (
        ["/usr/local/bin/gunicorn-entrypoint"],
        ["--bind", "127.0.0.1:8000", "app:app"],
    )
    inferred = locate_arguments(entrypoint, cmd)
    assert inferred is not None and inferred.place is ArgsPlace.PASSTHROUGH
    assert not inferred.verified
    verified = locate_arguments(entrypoint, cmd, known_arguments=tuple(cmd))
    assert verified is not None and verified.verified
    assert locate_arguments(["/entrypoint.sh"], ["celery", "worker"]) is None


def test_gunicorn_cmd_args_and_env_lists() -> None:
    assert rewrite_env_arguments("--timeout 5 --name 'my app'", {"timeout": 50}) == (
        "--timeout 50 --name 'my app'"
    )
    assert rewrite_env_arguments("", {"workers": 3}) == "--workers 3"
    env = ("A=1", "GUNICORN_CMD_ARGS=--timeout 5", "B=x=y")
    assert env_list_get(env, "B") == "x=y"
    assert env_list_set(env, "GUNICORN_CMD_ARGS", "--timeout 9") == (
        "A=1",
        "GUNICORN_CMD_ARGS=--timeout 9",
        "B=x=y",
    )
    assert env_list_set(env, "C", "2")[-1] == "C=2"
    assert env_list_set(env, "A", None) == ("GUNICORN_CMD_ARGS=--timeout 5", "B=x=y")

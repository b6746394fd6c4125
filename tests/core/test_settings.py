"""Reading Gunicorn settings: command lines, config files, precedence, wrappers.

Command lines are the ones captured from the test images (see
``data/process_tables.json``) and the shapes real Dockerfiles and compose
files use (``data/wrapper_commands.json``); config files are under
``data/config_files``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gunicorn_tui.model.instances import ConfigSource
from gunicorn_tui.settings.command_line import (
    ParsedArguments,
    parse_arguments,
    parse_env_arguments,
)
from gunicorn_tui.settings.command_recovery import args_from_command
from gunicorn_tui.settings.config_file import Computed, parse_config_source
from gunicorn_tui.settings.master_inputs import gather_inputs, recover_arguments
from gunicorn_tui.settings.resolve import (
    ConfigInputs,
    config_file_to_read,
    default_control_socket_path,
    resolve_config,
    short_worker_class,
    worker_class_from_repr,
)
from tests.core.data_files import load_json, read_text

TABLES: dict[str, Any] = load_json("process_tables.json")
WRAPPERS: list[dict[str, Any]] = load_json("wrapper_commands.json")
REPO_ROOT = Path(__file__).resolve().parents[2]


# --- command lines ------------------------------------------------------------


def test_parse_arguments_reads_every_tracked_option_form() -> None:
    parsed = parse_arguments(
        [
            "-b", "127.0.0.1:8000", "--bind", "[::1]:8001",
            "-w", "4", "-k", "gevent", "--threads=3", "--timeout", "45",
            "--graceful-timeout", "20", "--keep-alive", "5",
            "--max-requests=100", "--max-requests-jitter", "10",
            "--preload", "--no-control-socket", "-c", "conf/gunicorn.conf.py",
            "--name", "api", "app:app",
        ]
    )  # fmt: skip
    assert parsed.settings == {
        "bind": "127.0.0.1:8000,[::1]:8001",
        "workers": 4,
        "worker_class": "gevent",
        "threads": 3,
        "timeout": 45,
        "graceful_timeout": 20,
        "keepalive": 5,
        "max_requests": 100,
        "max_requests_jitter": 10,
        "preload_app": True,
        "control_socket_disable": True,
        "proc_name": "api",
    }
    assert parsed.config_path == "conf/gunicorn.conf.py"
    assert parsed.app_module == "app:app"
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    "name",
    ["latest", "nosetproctitle", "nosetproctitle_python_m", "python3_script", "gthread", "gevent"],
)
def test_parse_arguments_of_captured_container_commands(name: str) -> None:
    command = TABLES[name]["container_command"]
    args = args_from_command(command)
    assert args is not None
    parsed = parse_arguments(args)
    # Independent reading of the same words: the value after -b and -w.
    assert parsed.settings["bind"] == command[command.index("-b") + 1]
    assert parsed.settings["workers"] == int(command[command.index("-w") + 1])
    assert parsed.app_module == "app:app"
    if "-k" in command:
        assert parsed.settings["worker_class"] == command[command.index("-k") + 1]


def test_parse_arguments_reports_what_gunicorn_would_reject() -> None:
    bad = parse_arguments(["--workers", "many", "app:app"])
    assert bad.settings == {}
    assert len(bad.warnings) == 1
    assert "--workers" in bad.warnings[0] and "many" in bad.warnings[0]

    unknown = parse_arguments(["--frobnicate", "-w", "2", "app:app"])
    assert unknown.settings == {"workers": 2}
    assert unknown.warnings == ("unknown options ignored: --frobnicate",)


def test_gunicorn_cmd_args_are_shlex_split() -> None:
    parsed = parse_env_arguments("--workers 3 '--bind=127.0.0.1:9000' --access-logfile -")
    assert parsed.settings == {"workers": 3, "bind": "127.0.0.1:9000", "accesslog": "-"}
    broken = parse_env_arguments('--name "unterminated')
    assert broken.settings == {}
    assert broken.warnings and "GUNICORN_CMD_ARGS" in broken.warnings[0]


# --- recovering arguments from wrappers ----------------------------------------


@pytest.mark.parametrize("case", WRAPPERS, ids=[case["why"] for case in WRAPPERS])
def test_args_from_wrapper_commands(case: dict[str, Any]) -> None:
    result = args_from_command(case["command"])
    assert (list(result) if result is not None else None) == case["args"]


@pytest.mark.parametrize(
    ("name", "wrapper_pid"),
    [("sh_c", 24743), ("tini", 24892)],
)
def test_hidden_arguments_are_recovered_from_the_captured_wrapper(
    name: str, wrapper_pid: int
) -> None:
    case = TABLES[name]
    by_pid = {pid: argv for pid, _, argv in case["processes"]}
    master = case["expected_trees"][0]["master_pid"]
    args, note = recover_arguments(by_pid[master], True, [by_pid[wrapper_pid]])
    assert args is not None and "app:app" in args
    assert note is not None and "setproctitle" in note


def test_hidden_arguments_stay_unknown_without_a_wrapper_that_shows_them() -> None:
    case = TABLES["shell"]
    by_pid = {pid: argv for pid, _, argv in case["processes"]}
    args, note = recover_arguments(by_pid[24574], True, [by_pid[24528], case["container_command"]])
    assert args is None
    assert note == "command line hidden by setproctitle and not found in a wrapper"


def test_each_of_two_masters_in_one_wrapper_gets_its_own_arguments() -> None:
    wrapper = (
        "sh",
        "-c",
        "gunicorn -b 127.0.0.1:7001 app:app & "
        "gunicorn -b 127.0.0.1:7002 --name second app:app; wait",
    )
    first, _ = recover_arguments(("gunicorn: master [app:app]",), True, [wrapper], name="app:app")
    second, _ = recover_arguments(("gunicorn: master [second]",), True, [wrapper], name="second")
    assert first is not None and parse_arguments(first).settings["bind"] == "127.0.0.1:7001"
    assert second is not None and parse_arguments(second).settings["bind"] == "127.0.0.1:7002"


def test_two_masters_with_the_same_name_are_told_apart_by_their_listeners() -> None:
    wrapper = (
        "sh",
        "-c",
        "gunicorn -b 127.0.0.1:7001 app:app & gunicorn -b 127.0.0.1:7002 app:app; wait",
    )
    title = ("gunicorn: master [app:app]",)
    first, _ = recover_arguments(title, True, [wrapper], name="app:app", listen_ports={7001})
    second, _ = recover_arguments(title, True, [wrapper], name="app:app", listen_ports={7002})
    unknown, note = recover_arguments(title, True, [wrapper], name="app:app")
    assert first is not None and parse_arguments(first).settings["bind"] == "127.0.0.1:7001"
    assert second is not None and parse_arguments(second).settings["bind"] == "127.0.0.1:7002"
    # Without listeners to compare, picking one would be a guess.
    assert unknown is None
    assert note is not None and "several" in note


# --- config files -------------------------------------------------------------


def test_config_file_with_literal_values() -> None:
    parsed = parse_config_source(read_text("config_files/literal.conf"), "literal.conf")
    assert parsed.settings == {
        "bind": "127.0.0.1:9100,unix:/run/app.sock",
        "workers": 3,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 45,
        "graceful_timeout": 20.5,
        "preload_app": True,
        "max_requests": 1000,
        "accesslog": "-",
    }
    assert parsed.warnings == ()


def test_config_file_with_computed_values_marks_them_set_but_unknown() -> None:
    parsed = parse_config_source(read_text("config_files/computed.conf"), "computed.conf")
    settings = parsed.settings
    for name in ("bind", "workers"):
        assert isinstance(settings[name], Computed), name
    assert "cpu_count" in str(settings["workers"])
    # Assigned under an if, a try or by augmented or tuple assignment: which
    # value the file ends with is only known by running it.
    for name in ("timeout", "worker_class", "keepalive", "max_requests", "max_requests_jitter"):
        assert isinstance(settings[name], Computed), name
    # A local variable of a hook is not a setting.
    assert "threads" not in settings


def test_config_file_that_is_not_python_gives_a_warning() -> None:
    parsed = parse_config_source(read_text("config_files/broken.conf"), "broken.conf")
    assert parsed.settings == {}
    assert len(parsed.warnings) == 1 and "broken.conf" in parsed.warnings[0]


@pytest.mark.parametrize(
    ("args", "environment", "expected"),
    [
        (["-c", "/etc/g.py", "app:app"], {"GUNICORN_CMD_ARGS": "-c /x.py"}, "/etc/g.py"),
        (["app:app"], {"GUNICORN_CMD_ARGS": "--config /x.py -w 2"}, "/x.py"),
        (["app:app"], {}, "gunicorn.conf.py"),
        (["-c", "python:settings.gunicorn", "app:app"], {}, "python:settings.gunicorn"),
    ],
)
def test_which_config_file_gunicorn_loads(
    args: list[str], environment: dict[str, str], expected: str
) -> None:
    assert config_file_to_read(parse_arguments(args), environment) == expected


# --- precedence -----------------------------------------------------------------


def _inputs(
    args: list[str] | None,
    environment: dict[str, str] | None = None,
    config_source: str | None = None,
    control: dict[str, object] | None = None,
) -> ConfigInputs:
    command_line = parse_arguments(args) if args is not None else ParsedArguments({}, None, None)
    config_file = parse_config_source(config_source) if config_source is not None else None
    return ConfigInputs(
        command_line=command_line,
        environment=environment or {},
        config_file_path="gunicorn.conf.py" if config_file is not None else None,
        config_file=config_file,
        control_socket_config=control,
        command_line_known=args is not None,
    )


def _value_and_source(inputs: ConfigInputs, name: str) -> tuple[object, ConfigSource]:
    setting = resolve_config(inputs).get(name)
    return setting.value, setting.source


def test_precedence_config_file_then_env_then_command_line() -> None:
    config = "workers = 3\ntimeout = 40\nthreads = 4\nbind = '127.0.0.1:9000'\n"
    environment = {"GUNICORN_CMD_ARGS": "--workers 5 --timeout 50"}
    inputs = _inputs(["-w", "7", "app:app"], environment, config)
    assert _value_and_source(inputs, "workers") == (7, ConfigSource.COMMAND_LINE)
    assert _value_and_source(inputs, "timeout") == (50, ConfigSource.ENV)
    assert _value_and_source(inputs, "threads") == (4, ConfigSource.CONFIG_FILE)
    assert _value_and_source(inputs, "bind") == ("127.0.0.1:9000", ConfigSource.CONFIG_FILE)
    assert _value_and_source(inputs, "keepalive") == (2, ConfigSource.DEFAULT)
    # sync with threads > 1 runs as gthread.
    assert _value_and_source(inputs, "worker_class") == ("gthread", ConfigSource.DEFAULT)


def test_web_concurrency_and_port_feed_the_defaults_only() -> None:
    environment = {"WEB_CONCURRENCY": "6", "PORT": "5000"}
    alone = _inputs(["app:app"], environment)
    assert _value_and_source(alone, "workers") == (6, ConfigSource.ENV)
    assert _value_and_source(alone, "bind") == ("0.0.0.0:5000", ConfigSource.ENV)

    overridden = _inputs(["-b", "127.0.0.1:1", "app:app"], environment, "workers = 2\n")
    assert _value_and_source(overridden, "workers") == (2, ConfigSource.CONFIG_FILE)
    assert _value_and_source(overridden, "bind") == ("127.0.0.1:1", ConfigSource.COMMAND_LINE)


def test_defaults_are_gunicorns_own() -> None:
    inputs = _inputs(["app:app"])
    assert _value_and_source(inputs, "workers") == (1, ConfigSource.DEFAULT)
    assert _value_and_source(inputs, "bind") == ("127.0.0.1:8000", ConfigSource.DEFAULT)
    assert _value_and_source(inputs, "timeout") == (30, ConfigSource.DEFAULT)
    assert _value_and_source(inputs, "worker_class") == ("sync", ConfigSource.DEFAULT)


def test_defaults_do_not_depend_on_gtuis_own_environment() -> None:
    # Gunicorn computes the workers and bind defaults when gunicorn.config is
    # imported, from the importing process's environment: gtui's, not the
    # server's. Run the resolution where gtui itself has both variables set.
    script = (
        "import json\n"
        "from gunicorn_tui.settings.command_line import parse_arguments\n"
        "from gunicorn_tui.settings.resolve import ConfigInputs, resolve_config\n"
        "config = resolve_config(ConfigInputs(parse_arguments(['app:app']), {}, None, None))\n"
        "print(json.dumps([config.value('workers'), config.value('bind')]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(REPO_ROOT), "WEB_CONCURRENCY": "7", "PORT": "9999"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(completed.stdout) == [1, "127.0.0.1:8000"]


def test_everything_static_is_unknown_when_the_command_line_is_hidden() -> None:
    inputs = _inputs(
        None,
        {"WEB_CONCURRENCY": "4", "GUNICORN_CMD_ARGS": "--timeout 50"},
        "threads = 4\n",
    )
    config = resolve_config(inputs)
    # The hidden command line may override any of these.
    for name in ("workers", "timeout", "threads", "bind", "worker_class"):
        setting = config.get(name)
        assert (setting.value, setting.source) == (None, ConfigSource.UNKNOWN), name


def test_control_socket_values_win_and_keep_the_declaring_layer() -> None:
    control: dict[str, object] = {
        "workers": 4,
        "worker_class": "<class 'gunicorn.workers.ggevent.GeventWorker'>",
        "bind": ["127.0.0.1:8000"],
    }
    inputs = _inputs(["-w", "2", "app:app"], control=control)
    config = resolve_config(inputs)
    workers = config.get("workers")
    assert (workers.value, workers.source, workers.declared_in) == (
        4,
        ConfigSource.CONTROL_SOCKET,
        ConfigSource.COMMAND_LINE,
    )
    assert config.worker_class == "gevent"
    assert config.value("bind") == "127.0.0.1:8000"

    hidden = resolve_config(_inputs(None, control=control))
    assert hidden.get("workers").source is ConfigSource.CONTROL_SOCKET
    assert hidden.get("workers").declared_in is ConfigSource.UNKNOWN
    assert hidden.get("timeout").source is ConfigSource.UNKNOWN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<class 'gunicorn.workers.sync.SyncWorker'>", "sync"),
        ("<class 'gunicorn.workers.gthread.ThreadWorker'>", "gthread"),
        ("<class 'uvicorn_worker.UvicornWorker'>", "uvicorn_worker.UvicornWorker"),
        ("egg:gunicorn#gevent", "gevent"),
        ("gunicorn.workers.ggevent.GeventWorker", "gevent"),
    ],
)
def test_worker_class_names(value: str, expected: str) -> None:
    assert worker_class_from_repr(value) == expected
    assert short_worker_class(worker_class_from_repr(value)) == expected


def test_default_control_socket_path_follows_the_servers_environment() -> None:
    assert default_control_socket_path({"XDG_RUNTIME_DIR": "/run/user/1000/"}) == (
        "/run/user/1000/gunicorn.ctl"
    )
    assert default_control_socket_path({"HOME": "/srv"}) == "/srv/.gunicorn/gunicorn.ctl"
    assert default_control_socket_path({}) is None


# --- gathering inputs ---------------------------------------------------------


def test_gather_inputs_reads_the_config_file_named_in_gunicorn_cmd_args() -> None:
    files = {"/etc/gunicorn/app.py": read_text("config_files/literal.conf")}
    gathered = gather_inputs(
        argv=("gunicorn: master [app:app]",),
        titled=True,
        wrapper_commands=[("tini", "--", "gunicorn", "-w", "9", "app:app")],
        environment=None,
        fallback_environment={"GUNICORN_CMD_ARGS": "-c /etc/gunicorn/app.py --timeout 12"},
        read_file=files.get,
    )
    config = resolve_config(gathered.inputs)
    assert gathered.arguments == ("-w", "9", "app:app")
    assert config.config_file == "/etc/gunicorn/app.py"
    assert (config.value("workers"), config.get("workers").source) == (
        9,
        ConfigSource.COMMAND_LINE,
    )
    assert (config.value("timeout"), config.get("timeout").source) == (12, ConfigSource.ENV)
    assert (config.value("threads"), config.get("threads").source) == (
        4,
        ConfigSource.CONFIG_FILE,
    )
    assert any("environment hidden" in note for note in gathered.notes)


def test_gather_inputs_says_when_the_config_file_cannot_be_read() -> None:
    def denied(path: str) -> str | None:
        raise PermissionError(path)

    gathered = gather_inputs(
        argv=("gunicorn", "-c", "/secret/gunicorn.py", "app:app"),
        titled=False,
        wrapper_commands=[],
        environment={},
        fallback_environment={},
        read_file=denied,
    )
    assert gathered.inputs.config_file is None
    assert gathered.notes == ("config file /secret/gunicorn.py: permission denied",)

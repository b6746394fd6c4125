"""The planner, with hand-made samples and facts: strategies, steps, refusals."""

from __future__ import annotations

import shlex
from dataclasses import replace

from gunicorn_tui.control.durability.plan_codec import decode_plan, encode
from gunicorn_tui.control.planning.managed_config import MARKER, render_managed
from gunicorn_tui.control.planning.plan import (
    CheckConfig,
    ControlCommand,
    CreateContainer,
    RemoveContainer,
    RenameContainer,
    RevertSpec,
    SendSignal,
    SignalRoute,
    StartContainer,
    StartLocalMaster,
    StopContainer,
    StopLocalMaster,
    Strategy,
    WaitServing,
    WriteFile,
)
from gunicorn_tui.control.planning.planner import (
    plan_kill_worker,
    plan_reload,
    plan_retune,
    plan_revert,
)
from gunicorn_tui.control.planning.requests import RetuneRequest, parse_scale
from gunicorn_tui.control.planning.scale_strategy import plan_scale
from gunicorn_tui.control.planning.strategy_common import check_environment
from gunicorn_tui.model.instances import ConfigSource
from gunicorn_tui.sampling.local_instance import LaunchRecord
from tests.control.data import config, facts, inspect, sample, with_file

CLI = ConfigSource.COMMAND_LINE


# -- scale ---------------------------------------------------------------------------------


def test_scale_uses_the_control_socket_when_there_is_one() -> None:
    plan = plan_scale(sample(), facts(layers={"workers": CLI}), parse_scale("+2"))
    assert plan.ok and plan.strategy is Strategy.CONTROL_SOCKET
    first = plan.steps[0].action
    assert isinstance(first, ControlCommand) and first.command == "worker add 2"
    wait = plan.steps[-1].action
    assert isinstance(wait, WaitServing) and wait.workers == 4
    assert wait.url == "http://127.0.0.1:8000/"
    assert any("not kept across a reload" in note for note in plan.notes)


def test_scale_without_a_socket_sends_one_signal_per_worker() -> None:
    plan = plan_scale(
        sample(control_socket=None, workers_target=None, workers=3),
        facts(socket=False),
        parse_scale("=1"),
    )
    assert plan.strategy is Strategy.SIGNALS
    signal = plan.steps[0].action
    assert isinstance(signal, SendSignal)
    assert (signal.signal_name, signal.count, signal.route) == ("TTOU", 2, SignalRoute.HOST)
    assert signal.worker_counts == (2, 1)
    assert signal.text() == "kill -TTOU 4000 (x2, one at a time)"


def test_scale_refuses_to_leave_fewer_than_one_worker() -> None:
    for text in ("-2", "-5", "=0"):
        plan = plan_scale(sample(), facts(), parse_scale(text))
        assert not plan.ok and "at least 1" in (plan.refusal or ""), text
        assert plan.steps == ()


def test_scale_keeps_the_count_in_gtuis_own_config_file() -> None:
    content = render_managed({"workers": 2, "timeout": 40})
    base = with_file(facts(), exists=True, content=content, managed=True)
    plan = plan_scale(sample(), base, parse_scale("+1"))
    writes = [s.action for s in plan.steps if isinstance(s.action, WriteFile)]
    assert len(writes) == 1 and writes[0].content is not None
    assert "workers = 3" in writes[0].content and "timeout = 40" in writes[0].content
    assert not any("not kept" in note for note in plan.notes)


def test_a_worker_count_only_retune_is_a_scale() -> None:
    plan = plan_retune(sample(), facts(layers={"workers": CLI}), RetuneRequest(workers=5))
    assert plan.strategy is Strategy.CONTROL_SOCKET
    assert plan.after == {"workers": 5} and plan.revert == RevertSpec({"workers": 2}, workers=2)


# -- validation -------------------------------------------------------------------------------


def test_bad_requests_are_refused_with_the_reason() -> None:
    cases = {
        RetuneRequest(workers=0): "workers must be at least 1",
        RetuneRequest(workers=-3): "workers must be at least 1",
        RetuneRequest(worker_class="turbo"): "unknown worker class 'turbo'",
        RetuneRequest(worker_class="gevent", threads=4): "threads only apply to the gthread",
        RetuneRequest(timeout=-1): "timeout must be 0",
        RetuneRequest(worker_connections=50): "worker_connections only apply",
        RetuneRequest(max_requests_jitter=10): "no effect while max_requests is 0",
        RetuneRequest(): "nothing to change",
    }
    for request, reason in cases.items():
        plan = plan_retune(sample(), facts(), request)
        assert not plan.ok and reason in (plan.refusal or ""), (request, plan.refusal)


def test_sync_with_threads_counts_as_gthread_for_validation() -> None:
    plan = plan_retune(
        sample(), facts(modules={"gunicorn.workers.gthread": True}), RetuneRequest(threads=4)
    )
    assert plan.ok, plan.refusal


def test_a_worker_class_the_server_cannot_import_is_refused() -> None:
    plan = plan_retune(
        sample(),
        facts(
            modules={"gunicorn.workers.ggevent": False},
            module_errors={
                "gunicorn.workers.ggevent": "ModuleNotFoundError: No module named 'gevent'"
            },
        ),
        RetuneRequest(worker_class="gevent"),
    )
    assert not plan.ok
    assert "gunicorn.workers.ggevent does not import" in (plan.refusal or "")
    assert "No module named 'gevent'" in (plan.refusal or "")


def test_an_unprobed_worker_class_is_not_assumed_present() -> None:
    plan = plan_retune(sample(), facts(), RetuneRequest(worker_class="gthread"))
    assert not plan.ok and "was not checked" in (plan.refusal or "")


def test_the_same_settings_are_nothing_to_do() -> None:
    plan = plan_retune(sample(), facts(), RetuneRequest(timeout=30, worker_class="sync"))
    assert not plan.ok and "already runs" in (plan.refusal or "")


def test_a_retune_back_to_the_configured_count_after_worker_add_acts() -> None:
    # After `worker add 2`, `show config` still says 2 while the master aims for 4.
    added = sample(workers=4, workers_target=4, cfg=config(workers=2))
    plan = plan_retune(added, facts(layers={"workers": CLI}), RetuneRequest(workers=2))
    assert plan.ok, plan.refusal
    assert plan.strategy is Strategy.CONTROL_SOCKET
    first = plan.steps[0].action
    assert isinstance(first, ControlCommand) and first.command == "worker remove 2"
    assert plan.before == {"workers": 4} and plan.after == {"workers": 2}
    same = plan_retune(added, facts(layers={"workers": CLI}), RetuneRequest(workers=4))
    assert not same.ok and "already runs" in (same.refusal or "")


def test_without_a_target_the_observed_count_is_what_runs() -> None:
    # Gunicorn 20 after TTIN: no control socket, the config says 1, 3 run.
    grown = sample(workers=3, workers_target=None, control_socket=None, cfg=config(workers=1))
    plan = plan_retune(grown, facts(socket=False), RetuneRequest(workers=1))
    assert plan.ok and plan.strategy is Strategy.SIGNALS, plan.refusal
    signal = plan.steps[0].action
    assert isinstance(signal, SendSignal) and (signal.signal_name, signal.count) == ("TTOU", 2)


def test_revert_compares_with_the_running_count() -> None:
    added = sample(workers=4, workers_target=4, cfg=config(workers=2))
    base = with_file(facts(), exists=True, content=render_managed({"timeout": 60}), managed=True)
    plan = plan_revert(added, base, RevertSpec({"workers": 2}, file_path=base.config_file.path,
                                               file_content=None))  # fmt: skip
    assert plan.ok and plan.before == {"workers": 4}, plan.refusal


# -- in place with a gtui config file -----------------------------------------------------------


def test_unpinned_settings_are_changed_in_place_with_a_checked_config_file() -> None:
    request = RetuneRequest(worker_class="gthread", threads=4, timeout=60)
    plan = plan_retune(
        sample(),
        facts(layers={"workers": CLI}, modules={"gunicorn.workers.gthread": True}),
        request,
    )
    assert plan.ok and plan.strategy is Strategy.HUP_WITH_CONFIG, plan.refusal
    kinds = [type(step.action) for step in plan.steps]
    assert kinds == [WriteFile, CheckConfig, WriteFile, WriteFile, SendSignal, WaitServing]
    candidate, check, final, cleanup, hup, wait = (step.action for step in plan.steps)
    assert (
        isinstance(candidate, WriteFile)
        and candidate.path == "/app/gunicorn.conf.gtui-candidate.py"
    )
    assert candidate.content is not None and candidate.content.startswith(MARKER)
    assert "worker_class = 'gthread'" in candidate.content and "threads = 4" in candidate.content
    assert isinstance(check, CheckConfig)
    assert check.argv == (
        "/usr/bin/python3.11",
        "-m",
        "gunicorn",
        "-w",
        "2",
        "-b",
        "127.0.0.1:8000",
        "app:app",
        "-c",
        "/app/gunicorn.conf.gtui-candidate.py",
        "--check-config",
    )
    assert isinstance(final, WriteFile) and final.path == "/app/gunicorn.conf.py"
    assert final.content == candidate.content
    assert isinstance(cleanup, WriteFile) and cleanup.content is None
    assert isinstance(hup, SendSignal) and hup.signal_name == "HUP"
    assert isinstance(wait, WaitServing) and wait.fresh_after_step == 4
    assert dict(wait.verify) == {"worker_class": "gthread", "threads": 4, "timeout": 60}
    assert plan.revert == RevertSpec(
        {"worker_class": "sync", "threads": 1, "timeout": 30},
        file_path="/app/gunicorn.conf.py",
        file_content=None,
    )


def test_in_place_keeps_a_running_count_that_differs_from_the_configured_one() -> None:
    plan = plan_retune(sample(workers=4, workers_target=4), facts(), RetuneRequest(timeout=60))
    final = plan.steps[2].action
    assert isinstance(final, WriteFile) and final.content is not None
    assert "workers = 4" in final.content
    wait = plan.steps[-1].action
    assert isinstance(wait, WaitServing) and wait.workers == 4


def test_web_concurrency_does_not_pin_workers() -> None:
    plan = plan_retune(
        sample(),
        facts(layers={"workers": ConfigSource.ENV}, env_declares={"workers": "WEB_CONCURRENCY"}),
        RetuneRequest(workers=3, timeout=40),
    )
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.refusal


def test_gtuis_own_file_is_rewritten_but_an_operators_file_never() -> None:
    own = with_file(facts(), exists=True, content=render_managed({"timeout": 40}), managed=True)
    plan = plan_retune(sample(), own, RetuneRequest(graceful_timeout=10))
    assert plan.strategy is Strategy.HUP_WITH_CONFIG
    assert plan.revert is not None and plan.revert.file_content == render_managed({"timeout": 40})

    theirs = with_file(facts(), exists=True, content="workers = 2\n", managed=False)
    plan = plan_retune(sample(), theirs, RetuneRequest(graceful_timeout=10))
    assert plan.strategy is Strategy.RECREATE
    assert any("the operator's own config file" in note for note in plan.notes)
    assert not any(
        isinstance(step.action, WriteFile) and step.action.path == "/app/gunicorn.conf.py"
        for step in plan.steps
    )


# -- re-create ------------------------------------------------------------------------------


def test_a_setting_pinned_on_the_command_line_re_creates_with_the_command_rewritten() -> None:
    plan = plan_retune(
        sample(), facts(layers={"workers": CLI}), RetuneRequest(workers=4, timeout=50)
    )
    assert plan.strategy is Strategy.RECREATE, plan.refusal
    actions = [step.action for step in plan.steps]
    assert [type(a) for a in actions] == [
        CheckConfig,
        CreateContainer,
        StopContainer,
        RenameContainer,
        RenameContainer,
        StartContainer,
        WaitServing,
        RemoveContainer,
    ]
    check = actions[0]
    assert isinstance(check, CheckConfig) and check.container_id == "c" * 64
    assert check.argv == (
        "/usr/bin/python3.11",
        "-m",
        "gunicorn",
        "-w",
        "4",
        "-b",
        "127.0.0.1:8000",
        "app:app",
        "--check-config",
    )
    assert (
        check.environment is not None and check.environment["GUNICORN_CMD_ARGS"] == "--timeout 50"
    )
    create = actions[1]
    assert isinstance(create, CreateContainer) and create.name == "web-gtui-new"
    assert create.spec.body["Cmd"] == ["gunicorn", "-w", "4", "-b", "127.0.0.1:8000", "app:app"]
    assert "GUNICORN_CMD_ARGS=--timeout 50" in create.spec.body["Env"]
    assert create.spec.body["Labels"] == {"com.docker.compose.project": "shop"}
    renames = [a for a in actions if isinstance(a, RenameContainer)]
    assert [(r.old_name, r.new_name) for r in renames] == [
        ("web", "web-gtui-old"),
        ("web-gtui-new", "web"),
    ]
    assert plan.revert is not None and plan.revert.cmd == (
        "gunicorn",
        "-w",
        "2",
        "-b",
        "127.0.0.1:8000",
        "app:app",
    )
    assert any("docker compose up --force-recreate" in note for note in plan.notes)


def test_a_setting_in_gunicorn_cmd_args_is_changed_there() -> None:
    env = ["PATH=/usr/bin", "GUNICORN_CMD_ARGS=--timeout 20 --keep-alive 5"]
    plan = plan_retune(
        sample(),
        facts(
            layers={"timeout": ConfigSource.ENV},
            env_declares={"timeout": "GUNICORN_CMD_ARGS"},
            container_inspect=inspect(env=env),
        ),
        RetuneRequest(timeout=90),
    )
    assert plan.strategy is Strategy.RECREATE
    create = plan.steps[1].action
    assert isinstance(create, CreateContainer)
    assert "GUNICORN_CMD_ARGS=--timeout 90 --keep-alive 5" in create.spec.body["Env"]
    assert create.spec.body["Cmd"] == inspect()["Config"]["Cmd"]


def test_a_taken_temporary_name_is_refused_before_anything_happens() -> None:
    plan = plan_retune(
        sample(),
        facts(layers={"workers": CLI}, names_taken={"web-gtui-new": "f" * 64}),
        RetuneRequest(workers=4, timeout=50),
    )
    assert not plan.ok and plan.steps == ()
    assert "web-gtui-new already exists (ffffffffffff)" in (plan.refusal or "")


def test_autoremove_containers_are_not_re_created() -> None:
    base = facts(layers={"workers": CLI})
    assert base.container is not None
    base = replace(base, container=replace(base.container, auto_remove=True))
    plan = plan_retune(sample(), base, RetuneRequest(workers=4, timeout=50))
    assert not plan.ok and "AutoRemove" in (plan.refusal or "")


def test_preload_cannot_be_turned_off_against_an_operators_config_file() -> None:
    base = with_file(
        facts(layers={"preload_app": ConfigSource.CONFIG_FILE}),
        exists=True,
        content="preload_app = True\n",
        managed=False,
    )
    plan = plan_retune(sample(cfg=config(preload_app=True)), base, RetuneRequest(preload_app=False))
    assert not plan.ok and "no flag to turn it off" in (plan.refusal or "")


# -- host masters ---------------------------------------------------------------------------


def _local(**kwargs: object) -> tuple[object, object]:
    argv = ("/usr/bin/python3", "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:8000", "app:app")
    base = facts(
        container=False,
        layers={"workers": CLI},
        argv=argv,
        arguments=argv[3:],
        **kwargs,  # type: ignore[arg-type]
    )
    return sample(container=False), base


def test_a_host_master_gtui_did_not_start_needs_confirmation_to_restart() -> None:
    local_sample, base = _local()
    request = RetuneRequest(workers=4, timeout=50)
    plan = plan_retune(local_sample, base, request)  # type: ignore[arg-type]
    assert not plan.ok and "needs explicit confirmation" in (plan.refusal or "")
    plan = plan_retune(local_sample, base, replace(request, allow_restart=True))  # type: ignore[arg-type]
    assert plan.ok and plan.strategy is Strategy.RESTART_LOCAL


def test_a_host_master_gtui_started_is_restarted_with_the_new_command_line() -> None:
    argv = ("/usr/bin/python3", "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:8000", "app:app")
    local_sample, base = _local(launch=LaunchRecord(4000, argv, {"PATH": "/usr/bin"}, "/srv"))
    plan = plan_retune(local_sample, base, RetuneRequest(workers=4, timeout=50))  # type: ignore[arg-type]
    assert plan.strategy is Strategy.RESTART_LOCAL, plan.refusal
    check, stop, start, wait = (step.action for step in plan.steps)
    new_argv = (
        "/usr/bin/python3",
        "-m",
        "gunicorn",
        "--timeout",
        "50",
        "-w",
        "4",
        "-b",
        "127.0.0.1:8000",
        "app:app",
    )
    assert isinstance(check, CheckConfig) and check.argv == (*new_argv, "--check-config")
    assert isinstance(stop, StopLocalMaster) and stop.pid == 4000
    assert isinstance(start, StartLocalMaster) and start.argv == new_argv and start.cwd == "/app"
    assert isinstance(wait, WaitServing) and wait.workers == 4
    assert plan.revert is not None and plan.revert.argv == argv


# -- reload, kill, revert, codec ---------------------------------------------------------------


def test_reload_checks_the_config_then_hups_and_waits_for_new_workers() -> None:
    plan = plan_reload(sample(workers=3, workers_target=3), facts())
    check, hup, wait = (step.action for step in plan.steps)
    assert isinstance(check, CheckConfig) and check.argv[-1] == "--check-config"
    assert isinstance(hup, SendSignal) and hup.signal_name == "HUP"
    assert isinstance(wait, WaitServing) and wait.workers == 2 and wait.fresh_after_step == 1
    assert any("HUP returns to the configured worker count (2); 3 run now" in n for n in plan.notes)


def test_kill_worker_uses_the_pid_the_master_knows() -> None:
    plan = plan_kill_worker(sample(), facts(), 4001)
    kill = plan.steps[0].action
    assert isinstance(kill, ControlCommand) and kill.command == "worker kill 7"
    refused = plan_kill_worker(sample(), facts(), 99)
    assert not refused.ok and "not a worker of this master" in (refused.refusal or "")


def test_revert_restores_gtuis_file_or_the_original_command() -> None:
    spec = RevertSpec({"timeout": 30}, file_path="/app/gunicorn.conf.py", file_content=None)
    own = with_file(facts(), exists=True, content=render_managed({"timeout": 60}), managed=True)
    plan = plan_revert(sample(), own, spec)
    assert plan.strategy is Strategy.HUP_WITH_CONFIG
    assert isinstance(plan.steps[0].action, WriteFile) and plan.steps[0].action.content is None

    original = ("gunicorn", "-w", "2", "app:app")
    spec = RevertSpec({"workers": 2}, entrypoint=None, cmd=original, env=("A=1",))
    current = inspect(env=["A=1", "GUNICORN_CMD_ARGS=--timeout 5"])
    plan = plan_revert(sample(), facts(container_inspect=current), spec)
    check, create = plan.steps[0].action, plan.steps[1].action
    assert isinstance(create, CreateContainer)
    assert create.spec.body["Cmd"] == list(original) and create.spec.body["Env"] == ["A=1"]
    # The container's GUNICORN_CMD_ARGS is dropped by the revert: blanked in the check.
    assert isinstance(check, CheckConfig)
    assert check.environment == {"A": "1", "GUNICORN_CMD_ARGS": ""}


def test_a_plan_survives_the_journal_codec_unchanged() -> None:
    plans = [
        plan_retune(sample(), facts(layers={"workers": CLI}), RetuneRequest(workers=4, timeout=50)),
        plan_retune(sample(), facts(), RetuneRequest(timeout=50)),
        plan_scale(sample(control_socket=None), facts(socket=False), parse_scale("+3")),
    ]
    for plan in plans:
        assert plan.ok
        assert decode_plan(encode(plan)) == plan


def test_plan_describe_lists_each_step_with_its_command() -> None:
    plan = plan_retune(
        sample(), facts(layers={"workers": CLI}), RetuneRequest(workers=4, timeout=50)
    )
    lines = plan.describe()
    assert lines[1] == "change: workers 2 -> 4, timeout 30 -> 50"
    assert "   $ docker stop --time 10 web" in lines
    assert "   $ docker rename web web-gtui-old" in lines
    assert shlex.split(lines[2])[0] == "strategy:"


def test_check_config_gets_the_servers_pythonpath() -> None:
    env = check_environment(
        {"PYTHONPATH": "/site", "GUNICORN_CMD_ARGS": "--pythonpath lib"},
        ["--pythonpath", "/srv/app,src", "app:app"],
        "/work",
    )
    assert env is not None and env["PYTHONPATH"] == "/srv/app:/work/src:/work/lib:/site"
    assert check_environment({"A": "1"}, ["app:app"], "/work") == {"A": "1"}

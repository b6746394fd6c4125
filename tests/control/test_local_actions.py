"""Actions on Gunicorn masters on the host (no container)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gunicorn_tui.access.control_socket import UnixSocketTransport
from gunicorn_tui.control.engine import ActionRefused, ControlEngine
from gunicorn_tui.control.planning.managed_config import MARKER
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest, parse_scale
from tests.control.helpers import PlainGunicornFactory, sample_of, serves
from tests.harness.local_gunicorn import LocalGunicornFactory

pytestmark = pytest.mark.slow


def _show_config(socket_path: Path) -> dict[str, object]:
    (reply,) = UnixSocketTransport(str(socket_path), timeout_s=5).request(["show config"])
    assert reply.ok, reply.error
    return reply.data


def test_scale_a_host_master_by_control_socket_and_by_signals(
    local_gunicorn: LocalGunicornFactory, state_dir: Path
) -> None:
    engine = ControlEngine(state_directory=state_dir)
    with_socket = local_gunicorn.start("-w", "1")
    plan = engine.plan_scale(
        sample_of(f"pid:{with_socket.pid}", control_socket=True), parse_scale("+2")
    )
    assert plan.strategy is Strategy.CONTROL_SOCKET
    assert engine.execute(plan).ok
    assert len(sample_of(f"pid:{with_socket.pid}", workers=3).workers) == 3

    without = local_gunicorn.start("-w", "3", "--no-control-socket")
    plan = engine.plan_scale(sample_of(f"pid:{without.pid}"), parse_scale("=1"))
    assert plan.strategy is Strategy.SIGNALS and plan.steps[0].command == (
        f"kill -TTOU {without.pid} (x2, one at a time)"
    )
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    assert len(sample_of(f"pid:{without.pid}", workers=1).workers) == 1
    assert serves(without.port)


def test_a_titled_host_master_not_started_by_gtui_cannot_be_retuned(
    plain_gunicorn: PlainGunicornFactory, state_dir: Path
) -> None:
    # setproctitle hides its command line: nothing says what is pinned where.
    server = plain_gunicorn.start("-w", "2")
    engine = ControlEngine(state_directory=state_dir)
    plan = engine.plan_retune(sample_of(f"pid:{server.pid}"), RetuneRequest(timeout=20))
    assert not plan.ok
    assert "where timeout is set is not known" in (plan.refusal or "")
    assert "command line is hidden (setproctitle)" in (plan.refusal or "")
    # Counts still work: they need no config.
    assert engine.plan_scale(sample_of(f"pid:{server.pid}"), parse_scale("+1")).ok


def test_retune_a_host_master_in_place_then_revert(
    plain_gunicorn: PlainGunicornFactory, state_dir: Path
) -> None:
    server = plain_gunicorn.start("-w", "2", titled=False)
    engine = ControlEngine(state_directory=state_dir)
    plan = engine.plan_retune(
        sample_of(f"pid:{server.pid}"), RetuneRequest(worker_class="gthread", threads=2, timeout=20)
    )
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    config_file = server.cwd / "gunicorn.conf.py"
    assert config_file.read_text().startswith(MARKER)
    shown = _show_config(server.cwd / "gunicorn.ctl")
    assert "ThreadWorker" in str(shown["worker_class"]) and shown["timeout"] == 20
    assert outcome.disruption is not None and outcome.disruption.failed_probes == 0

    assert engine.execute(engine.plan_revert(sample_of(f"pid:{server.pid}"))).ok
    assert not config_file.exists()
    shown = _show_config(server.cwd / "gunicorn.ctl")
    assert "SyncWorker" in str(shown["worker_class"]) and shown["timeout"] == 30


def test_a_pinned_setting_restarts_a_master_gtui_started(
    plain_gunicorn: PlainGunicornFactory, state_dir: Path
) -> None:
    server = plain_gunicorn.start("-w", "2")
    launch = server.launch_record()
    engine = ControlEngine(state_directory=state_dir, launched=(launch,))
    sample = sample_of(f"pid:{server.pid}", launched=(launch,))
    plan = engine.plan_retune(sample, RetuneRequest(workers=3, max_requests=500))
    assert plan.strategy is Strategy.RESTART_LOCAL, plan.describe()
    outcome = engine.execute(plan)
    plain_gunicorn.adopt(outcome.new_master_pid)
    assert outcome.ok, outcome.summary()
    assert outcome.launch is not None and outcome.new_master_pid != server.pid
    assert (
        "-w" in outcome.launch.argv
        and outcome.launch.argv[outcome.launch.argv.index("-w") + 1] == "3"
    )
    restarted = sample_of(f"pid:{outcome.new_master_pid}", workers=3, launched=engine.launched)
    assert restarted.config.value("max_requests") == 500
    assert serves(server.port)
    # The new master is one gtui started: a later revert restarts it again.
    revert = engine.plan_revert(restarted)
    assert revert.strategy is Strategy.RESTART_LOCAL, revert.describe()
    reverted = engine.execute(revert)
    plain_gunicorn.adopt(reverted.new_master_pid)
    assert reverted.ok, reverted.summary()
    assert len(sample_of(f"pid:{reverted.new_master_pid}", workers=2).workers) == 2


def test_a_master_gtui_did_not_start_is_restarted_only_when_confirmed(
    plain_gunicorn: PlainGunicornFactory, state_dir: Path
) -> None:
    server = plain_gunicorn.start("-w", "2", titled=False)
    engine = ControlEngine(state_directory=state_dir)
    request = RetuneRequest(workers=3, timeout=25)
    plan = engine.plan_retune(sample_of(f"pid:{server.pid}"), request)
    assert not plan.ok and "needs explicit confirmation" in (plan.refusal or "")
    with pytest.raises(ActionRefused, match="needs explicit confirmation"):
        engine.execute(plan)
    assert serves(server.port)
    confirmed = RetuneRequest(workers=3, timeout=25, allow_restart=True)
    plan = engine.plan_retune(sample_of(f"pid:{server.pid}"), confirmed)
    assert plan.strategy is Strategy.RESTART_LOCAL
    outcome = engine.execute(plan)
    plain_gunicorn.adopt(outcome.new_master_pid)
    assert outcome.ok and serves(server.port)


def test_a_read_only_engine_refuses_everything(
    plain_gunicorn: PlainGunicornFactory, state_dir: Path
) -> None:
    server = plain_gunicorn.start("-w", "2")
    sample = sample_of(f"pid:{server.pid}")
    writable = ControlEngine(state_directory=state_dir)
    plan = writable.plan_scale(sample, parse_scale("+1"))
    engine = ControlEngine(state_directory=state_dir, read_only=True)
    for refused in (
        engine.plan_scale(sample, parse_scale("+1")),
        engine.plan_retune(sample, RetuneRequest(timeout=10)),
        engine.plan_reload(sample),
        engine.plan_revert(sample),
        engine.plan_kill_worker(sample, sample.workers[0].pid or 0),
    ):
        assert not refused.ok and "read-only" in (refused.refusal or "")
    with pytest.raises(ActionRefused, match="read-only"):
        engine.execute(plan)
    with pytest.raises(ActionRefused, match="read-only"):
        engine.recover()
    assert len(sample_of(f"pid:{server.pid}").workers) == 2
    assert not (state_dir / "audit.jsonl").exists()
    # The audit log records what a writable engine does.
    writable.execute(plan)
    (line,) = (state_dir / "audit.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert (record["action"], record["outcome"], record["before"], record["after"]) == (
        "scale",
        "ok",
        {"workers": 2},
        {"workers": 3},
    )

"""Actions from the dashboard, on a real Gunicorn: plan shown, confirmed, run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import psutil
import pytest
from textual.pilot import Pilot

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.demo.server import DemoServer, start_demo_server
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sampling.local_instance import LaunchRecord
from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
from gunicorn_tui.ui.actions.progress_screen import ActionProgressScreen
from gunicorn_tui.ui.actions.retune_form import RetuneForm
from gunicorn_tui.ui.app import GtuiApp
from tests.control.helpers import gunicorn_container, serves, worker_count
from tests.harness.containers import ContainerFactory
from tests.images import tags


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    server = start_demo_server(workers=2)
    try:
        yield server
    finally:
        server.stop()


def make_app(server: DemoServer, state_dir: Path, read_only: bool = False) -> GtuiApp:
    launch = LaunchRecord(server.pid, server.argv, server.environment, server.cwd)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{server.pid}"),),
            use_docker=False,
            launched=(launch,),
            statsd_address=None,
        )
    )
    monitor.open()
    engine = ControlEngine(read_only=read_only, state_directory=state_dir, launched=(launch,))
    return GtuiApp(monitor, refresh_s=0.5, engine=engine)


async def wait_for(pilot: Pilot[None], condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s}s")
        await pilot.pause(0.1)


def live_workers(server: DemoServer) -> int:
    return len(psutil.Process(server.pid).children())


async def test_scale_up_from_the_dashboard_shows_the_plan_then_runs_it(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    app = make_app(demo_server, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 20, "the plan")
        screen = app.screen
        assert isinstance(screen, ConfirmPlanScreen)
        assert screen.plan.ok, screen.plan.refusal
        # Nothing has run before the confirmation.
        assert live_workers(demo_server) == 2
        await pilot.press("y")
        await wait_for(pilot, lambda: app.last_outcome is not None, 60, "the outcome")
        assert app.last_outcome is not None
        assert app.last_outcome.status.value == "ok", app.last_outcome.summary()
        assert isinstance(app.screen, ActionProgressScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: live_workers(demo_server) == 3, 15, "3 workers")
        assert "served after" in app.last_outcome.summary()


async def test_read_only_session_refuses_before_anything_runs(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    app = make_app(demo_server, tmp_path, read_only=True)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 20, "the plan")
        screen = app.screen
        assert isinstance(screen, ConfirmPlanScreen)
        assert not screen.plan.ok
        assert "read-only" in (screen.plan.refusal or "")
        await pilot.press("y")  # refused plans cannot be run
        assert isinstance(app.screen, ConfirmPlanScreen)
        await pilot.press("escape")
        assert live_workers(demo_server) == 2


async def test_retune_form_validates_and_plans_only_what_changed(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    app = make_app(demo_server, tmp_path)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, RetuneForm), 5, "the form")
        form = app.screen
        assert isinstance(form, RetuneForm)
        workers = form.query_one("#field-workers")
        workers.value = "0"  # type: ignore[attr-defined]
        await pilot.pause(0.2)
        assert form.query_one("#submit").disabled
        assert "workers must be" in str(form.query_one("#problems").render())
        workers.value = "3"  # type: ignore[attr-defined]
        await pilot.pause(0.2)
        assert not form.query_one("#submit").disabled
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 30, "the plan")
        plan = app.screen.plan  # type: ignore[attr-defined]
        assert plan.ok, plan.refusal
        assert dict(plan.after)["workers"] == 3
        assert {k for k, v in plan.after.items() if plan.before.get(k) != v} == {"workers"}
        await pilot.press("escape")
        assert live_workers(demo_server) == 2


async def test_k_on_the_worker_table_kills_the_worker_under_the_cursor(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    # Before: the worker table bound "up,k" to cursor-up, which won over the app's k.
    from gunicorn_tui.ui.widgets.worker_table import WorkerTable

    app = make_app(demo_server, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        await pilot.press("enter")  # into the worker table
        table = app.query_one(WorkerTable)
        await wait_for(pilot, lambda: table.has_focus and table.cursor_key(), 5, "a worker row")
        await pilot.press("down")
        pid = int(table.cursor_key() or 0)
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 20, "the plan")
        screen = app.screen
        assert isinstance(screen, ConfirmPlanScreen)
        assert screen.plan.ok, screen.plan.refusal
        assert any(str(pid) in line for line in screen.plan.describe())
        await pilot.press("escape")
        assert pid in {child.pid for child in psutil.Process(demo_server.pid).children()}


async def test_d_on_the_worker_table_shows_its_python_stack(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    from gunicorn_tui.ui.stack_screen import StackScreen
    from gunicorn_tui.ui.widgets.worker_table import WorkerTable

    app = make_app(demo_server, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        await pilot.press("enter")
        table = app.query_one(WorkerTable)
        await wait_for(pilot, lambda: table.has_focus and table.cursor_key(), 5, "a worker row")
        pid = int(table.cursor_key() or 0)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, StackScreen), 5, "the stack screen")
        screen = app.screen
        assert isinstance(screen, StackScreen) and screen.pid == pid
        await wait_for(pilot, lambda: screen.text is not None, 30, "the dump")
        # py-spy's header names the process; a sync worker waits in its loop.
        assert f"Process {pid}" in (screen.text or ""), screen.text
        assert "gunicorn" in (screen.text or "")
        await pilot.press("escape")
        assert not isinstance(app.screen, StackScreen)


async def test_quitting_during_an_action_asks_then_stops_it_cleanly(
    demo_server: DemoServer, tmp_path: Path
) -> None:
    import threading

    import httpx

    from gunicorn_tui.control.durability.journal import JournalStore
    from gunicorn_tui.ui.actions.quit_screen import QuitDuringActionScreen

    # A request that keeps one old worker busy for 20 s: the reload's wait for
    # all-new workers lasts that long, so the action is running when q comes.
    def slow_request() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{demo_server.port}/io?ms=20000", timeout=30)

    app = make_app(demo_server, tmp_path)
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        threading.Thread(target=slow_request, daemon=True).start()
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 20, "the plan")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.slot.changing_label is not None, 20, "the action running")
        await wait_for(
            pilot, lambda: any(j.steps_done >= 2 for j in JournalStore(tmp_path).pending()), 20,
            "the HUP sent",
        )  # fmt: skip

        await pilot.press("q")
        await wait_for(
            pilot, lambda: isinstance(app.screen, QuitDuringActionScreen), 5, "the question"
        )
        await pilot.press("n")  # stay: nothing is interrupted
        await pilot.pause(0.5)
        assert app.is_running and app.slot.changing_label is not None

        await pilot.press("q")
        await wait_for(
            pilot, lambda: isinstance(app.screen, QuitDuringActionScreen), 5, "the question"
        )
        started = time.monotonic()
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, 30, "the exit")
    # Cut short well before the busy worker finished, and the action ended
    # cleanly (archived, not left for `gtui recover`).
    assert time.monotonic() - started < 15
    assert JournalStore(tmp_path).pending() == []
    (archived,) = JournalStore(tmp_path).archived()
    assert archived.data["outcome"]["interrupted"] == "quit"
    assert demo_server.process.poll() is None


async def test_a_plan_refused_for_want_of_consent_can_be_allowed_and_planned_again(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    container.exec_run(["sh", "-c", "echo x > /app/uploaded.txt"])
    monitor = Monitor(
        MonitorOptions(targets=(parse_target(name),), use_docker=True, statsd_address=None)
    )
    monitor.open()
    engine = ControlEngine(state_directory=tmp_path, docker_client=docker_client)
    app = GtuiApp(monitor, refresh_s=0.5, engine=engine)
    async with app.run_test(size=(110, 36)) as pilot:
        await wait_for(pilot, lambda: bool(app.frame and app.frame.instances), 20, "the server")
        assert app.frame is not None
        sample = app.frame.instances[0]
        app.actions.request(
            f"Retune {sample.label}",
            lambda engine: engine.plan_retune(sample, RetuneRequest(workers=3, timeout=49)),
            changes_key=sample.key,
        )
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 30, "the plan")
        refused = app.screen
        assert isinstance(refused, ConfirmPlanScreen) and not refused.plan.ok
        assert "A /app/uploaded.txt" in (refused.plan.refusal or "")
        assert refused.consents == ("discard_changes",)
        await pilot.press("y")  # --yes does not give it
        assert app.screen is refused
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ConfirmPlanScreen) and app.screen is not refused,
            30,
            "the plan made again",
        )
        allowed = app.screen
        assert isinstance(allowed, ConfirmPlanScreen) and allowed.plan.ok, allowed.plan.refusal
        assert any("A /app/uploaded.txt" in note for note in allowed.plan.notes)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.last_outcome is not None, 90, "the outcome")
        outcome = app.last_outcome
        assert outcome is not None and outcome.ok, outcome.summary() if outcome else None
    assert worker_count(docker_client.containers.get(name)) == 3 and serves(port)

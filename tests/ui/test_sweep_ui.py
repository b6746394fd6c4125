"""Sweeps from the dashboard (``w``) against a real Gunicorn on the host:
the form's checks, the read-only refusal, a short sweep that ranks,
restores and exports, and a cancelled one that restores.

Bounded: each config is measured for a few seconds under an open loop of
20 req/s from gtui's own load driver; every wait has a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import docker
import psutil
import pytest
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Checkbox

from gunicorn_tui.compare.interleave import InterleaveSettings, InterleaveStatus
from gunicorn_tui.compare.verdict import Verdict
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sweep.plot_svg import WINNER_FILL
from gunicorn_tui.sweep.runner import (
    ConfigResult,
    ConfigStatus,
    SweepProgress,
    SweepSettings,
    SweepStatus,
)
from gunicorn_tui.ui.action_slot import BUSY_NOTICE
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.sweep import sweep_screen
from gunicorn_tui.ui.sweep.launcher import READ_ONLY_NOTICE
from gunicorn_tui.ui.sweep.sweep_form import SweepForm
from gunicorn_tui.ui.sweep.sweep_screen import WINNER_MARK, SweepScreen, phase_of
from gunicorn_tui.ui.widgets.row_table import RowTable
from tests.compare.conftest import logged_gunicorn  # noqa: F401  (fixture)
from tests.control.helpers import gunicorn_container, wait_worker_count
from tests.harness.containers import ContainerFactory
from tests.harness.local_gunicorn import LocalGunicorn
from tests.images import tags
from tests.sweep.sweep_containers import ACCESS
from tests.ui.test_actions import wait_for

pytestmark = pytest.mark.slow

# Short enough for a test; a config still counts as ranked after 2 s.
SETTINGS = SweepSettings(warmup_s=1.0, measure_s=3.0, min_measured_s=2.0)


def dashboard(
    server: LocalGunicorn,
    tmp_path: Path,
    *,
    read_only: bool = False,
    settings: SweepSettings = SETTINGS,
) -> GtuiApp:
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{server.pid}"),), use_docker=False, statsd_address=None
        )
    )
    monitor.open()
    engine = ControlEngine(read_only=read_only, state_directory=tmp_path / "state")
    return GtuiApp(
        monitor,
        refresh_s=0.5,
        engine=engine,
        export_dir=tmp_path / "exports",
        sweep_settings=settings,
    )


def live_workers(server: LocalGunicorn) -> int:
    return len(psutil.Process(server.pid).children())


def notices(app: GtuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def open_form(app: GtuiApp, pilot: Pilot[None]) -> SweepForm:
    await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepForm), 5, "the sweep form")
    assert isinstance(app.screen, SweepForm)
    return app.screen


async def fill(pilot: Pilot[None], form: SweepForm, **values: str) -> None:
    for name, value in values.items():
        form.query_one(f"#sweep-{name}").value = value  # type: ignore[attr-defined]
    await pilot.pause(0.2)


async def start(app: GtuiApp, pilot: Pilot[None]) -> SweepScreen:
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), 5, "the sweep screen")
    assert isinstance(app.screen, SweepScreen)
    return app.screen


def problems_shown(form: SweepForm) -> str:
    return str(form.query_one("#sweep-problems").render())


LOAD = {"profile": "", "rate": "20", "concurrency": "", "path": "/fast"}


async def test_the_form_refuses_bad_values_and_nothing_is_touched(
    logged_gunicorn: Callable[..., LocalGunicorn],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    app = dashboard(server, tmp_path)
    async with app.run_test(size=(110, 44)) as pilot:
        form = await open_form(app, pilot)
        start = form.query_one("#sweep-start")
        await fill(pilot, form, workers="0,2", worker_classes="sync", **LOAD)
        assert start.disabled
        assert "workers: 0 is not a worker count" in problems_shown(form)
        await fill(pilot, form, workers="2", worker_classes="sync,quantum")
        assert start.disabled
        assert "unknown worker class 'quantum'" in problems_shown(form)
        await pilot.press("ctrl+s")  # refused: the form stays
        assert app.screen is form
        await fill(pilot, form, worker_classes="sync", rate="", concurrency="")
        assert "name a profile, a rate or a concurrency" in problems_shown(form)
        await fill(pilot, form, rate="20")
        assert not start.disabled and problems_shown(form) == ""
        await pilot.press("escape")
        assert not isinstance(app.screen, SweepForm)
    assert live_workers(server) == 1
    assert app.sweeps.last_result is None
    assert not (tmp_path / "state" / "sweeps").exists()


async def test_a_read_only_session_refuses_a_sweep(
    logged_gunicorn: Callable[..., LocalGunicorn],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    app = dashboard(server, tmp_path, read_only=True)
    async with app.run_test(size=(110, 44)) as pilot:
        await wait_for(pilot, lambda: app.frames_seen >= 2, 15, "first frames")
        await pilot.press("w")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, (SweepForm, SweepScreen))
        assert READ_ONLY_NOTICE in notices(app)
    assert live_workers(server) == 1
    assert not (tmp_path / "state" / "sweeps").exists()


async def test_a_short_sweep_ranks_restores_and_exports(
    logged_gunicorn: Callable[..., LocalGunicorn],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    app = dashboard(server, tmp_path)
    async with app.run_test(size=(110, 44)) as pilot:
        form = await open_form(app, pilot)
        # A 3 s warm-up: the new worker count is confirmed (a few readings) within it.
        await fill(pilot, form, workers="1,2", worker_classes="sync", measure_s="3",
                   warmup_s="3", **LOAD)  # fmt: skip
        screen = await start(app, pilot)
        assert app.sweeps.running
        # A second sweep (or anything else) is refused while this one runs.
        app.action_sweep()
        await pilot.pause(0.1)
        assert BUSY_NOTICE in notices(app) and app.screen is screen
        phases: set[str] = set()

        def ended() -> bool:
            if screen.last is not None:
                phases.add(phase_of(screen.last, screen.warmup_s))
            return screen.result is not None or screen.error is not None

        await wait_for(pilot, ended, 75, "the sweep's end")
        result = screen.result
        assert result is not None, screen.error
        assert result.status is SweepStatus.COMPLETED, result.reason
        assert {"retune", "measure", "restore"} <= phases, phases
        assert [r.config.label for r in result.results] == ["1 x sync", "2 x sync"]
        assert [r.status for r in result.results] == [ConfigStatus.MEASURED] * 2, result.results
        assert [r.error for r in result.results] == [None, None]
        assert result.restored and result.config_now == "1 x sync"
        assert result.winner is not None
        table = screen.query_one("#sweep-results", RowTable)
        assert table.row_keys == ["0", "1"]
        winner_row = table.row_text(str(result.winner))
        assert winner_row.lstrip().startswith(WINNER_MARK), winner_row
        assert result.results[result.winner].config.label in winner_row
        assert WINNER_MARK not in table.row_text(str(1 - result.winner))
        verdict = str(screen.query_one("#sweep-verdict").render())
        assert "winner: " in verdict and "original restored" in verdict
        await wait_for(pilot, lambda: live_workers(server) == 1, 20, "1 worker again")
        # The result is on screen before the app has handled the sweep's
        # "finished" message; the busy flags clear with that message.
        await wait_for(
            pilot, lambda: not app.sweeps.running and not app.slot.busy, 10, "sweep not busy"
        )

        await pilot.press("e")
        await wait_for(pilot, lambda: app.sweeps.last_export is not None, 10, "the export")
        files = app.sweeps.last_export
        assert files is not None
        assert [p.parent for p in files.paths] == [tmp_path / "exports"] * 3
        markdown = files.markdown_path.read_text()
        assert "| 1 x sync" in markdown and "| 2 x sync" in markdown and "**winner**" in markdown
        data = json.loads(files.json_path.read_text())
        assert data["schema"] == "gtui.sweep/1" and data["restored"] is True
        assert [c["label"] for c in data["configs"]] == ["1 x sync", "2 x sync"]
        assert data["winner"] == result.winner
        # The plot: one bar per config in each of the four panels, the
        # winner's in its own colour.
        plot = ElementTree.parse(files.svg_path).getroot()
        # A figure with no reading in a short window (CPU per request or memory
        # under a busy CI machine) is drawn as "n/a", never as a bar.
        bars = [e for e in plot.iter() if e.tag.endswith("rect") and e.get("height") != "100%"]
        missing = [e for e in plot.iter() if e.tag.endswith("text") and e.text == "n/a"]
        assert len(bars) + len(missing) == 4 * 2

        def figures(r: ConfigResult) -> list[float | None]:
            s = r.summary
            assert s is not None
            return [r.throughput_rps, r.latency_p99_ms, s.cpu_ms_per_request, s.memory_bytes]

        read = [[v is not None for v in figures(r)] for r in result.results]
        assert all(row[0] for row in read)  # throughput is measured for both configs
        assert len(bars) == sum(map(sum, read))
        assert sum(bar.get("fill") == WINNER_FILL for bar in bars) == sum(read[result.winner])
        assert any(str(files.markdown_path) in n for n in notices(app))

        await pilot.press("escape")
        assert not isinstance(app.screen, SweepScreen)
        seen = app.frames_seen
        await wait_for(pilot, lambda: app.frames_seen > seen + 1, 10, "sampling again")
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))  # archived


async def test_cancelling_a_sweep_restores_the_original_config(
    logged_gunicorn: Callable[..., LocalGunicorn],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    app = dashboard(server, tmp_path)
    async with app.run_test(size=(110, 44)) as pilot:
        form = await open_form(app, pilot)
        await fill(pilot, form, workers="2,3", worker_classes="sync", measure_s="30",
                   warmup_s="1", **LOAD)  # fmt: skip
        screen = await start(app, pilot)

        def measuring_first() -> bool:
            last = screen.last
            return last is not None and last.index == 0 and last.measurement is not None

        await wait_for(pilot, measuring_first, 40, "the first config measured")
        assert live_workers(server) == 2
        started = time.monotonic()
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.result is not None, 40, "the cancelled end")
        assert time.monotonic() - started < 30
        result = screen.result
        assert result is not None
        assert result.status is SweepStatus.CANCELLED, result.reason
        assert result.restored and result.config_now == "1 x sync"
        assert [r.status for r in result.results][1] is ConfigStatus.SKIPPED
        await wait_for(pilot, lambda: live_workers(server) == 1, 20, "1 worker again")
        assert not app.sweeps.running
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))


# Interleaved rounds, as `gtui sweep` runs them (the launcher's default shape).
ROUNDS = SweepSettings(interleave=InterleaveSettings(segment_s=2.0))
# The known effect: 1 -> 2 sync workers doubles a closed loop of 4 clients
# on a 50 ms sleep however busy the machine's cores are (see
# tests/compare/test_interleave_live.py); a cap of 120 s leaves a shared CI
# box room to answer, and the run stops as soon as it is conclusive.
SLEEP_LOAD = {"profile": "", "rate": "", "concurrency": "4", "path": "/io?ms=50"}


async def test_an_interleaved_sweep_shows_rounds_and_the_effect_with_its_interval(
    logged_gunicorn: Callable[..., LocalGunicorn],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every progress line the screen draws after a look (a run conclusive at
    # its first look shows that look only until the restore's line replaces
    # it: polling the screen can miss it).
    shown: list[str] = []
    draw = sweep_screen.progress_content

    def drawing(progress: SweepProgress, *args: Any, **kwargs: Any) -> Content:
        content = draw(progress, *args, **kwargs)
        if progress.rounds is not None and progress.rounds.look is not None:
            shown.append(str(content))
        return content

    monkeypatch.setattr(sweep_screen, "progress_content", drawing)
    server = logged_gunicorn("-w", "1")
    app = dashboard(server, tmp_path, settings=ROUNDS)
    async with app.run_test(size=(110, 44)) as pilot:
        form = await open_form(app, pilot)
        assert not form.query_one("#sweep-in-turn", Checkbox).value  # interleaved by default
        await fill(pilot, form, workers="1,2", worker_classes="sync", cap_s="120", **SLEEP_LOAD)
        assert "interleaved in rounds" in str(form.query_one("#sweep-plan").render())
        screen = await start(app, pilot)

        def ended() -> bool:
            return screen.result is not None or screen.error is not None

        await wait_for(pilot, ended, 200, "the sweep's end")
        result = screen.result
        assert result is not None, screen.error
        assert result.status is SweepStatus.COMPLETED, result.reason
        verdict = result.verdict
        assert verdict is not None, result.notes  # the rounds' engine ran, not one config each
        assert verdict.status is InterleaveStatus.CONCLUSIVE, (
            [e.text() for e in verdict.final.effects] if verdict.final else verdict.reason
        )
        labels = [r.config.label for r in result.results]
        assert result.winner is not None and labels[result.winner] == "2 x sync", labels
        effect = result.winner_effect
        assert effect is not None and effect.verdict is Verdict.SIGNIFICANT
        # While it ran: the round and the primary metric's interval, narrowing.
        assert shown and "round " in shown[-1] and "[" in shown[-1], shown[-1:]
        text = str(screen.query_one("#sweep-verdict").render())
        assert "conclusive after" in text and "2 x sync against 1 x sync" in text, text
        assert effect.text() in text, text
        # Each config against the baseline (the original, 1 x sync), from the same rounds.
        (versus,) = result.versus_baseline
        assert (labels[versus.baseline], labels[versus.config]) == ("1 x sync", "2 x sync")
        assert versus.effect.verdict is Verdict.SIGNIFICANT and (versus.effect.low or 0) > 0
        assert "against the baseline 1 x sync" in text, text
        assert f"2 x sync: {versus.effect.text()} significant" in text, text
        assert result.restored and result.config_now == "1 x sync"
        await wait_for(pilot, lambda: live_workers(server) == 1, 20, "1 worker again")
        await wait_for(
            pilot, lambda: not app.sweeps.running and not app.slot.busy, 10, "sweep not busy"
        )
        await pilot.press("e")
        await wait_for(pilot, lambda: app.sweeps.last_export is not None, 10, "the export")
        files = app.sweeps.last_export
        assert files is not None
        data = json.loads(files.json_path.read_text())
        assert data["verdict"]["status"] == "conclusive" and data["restored"] is True
        assert [(v["label"], v["baseline_label"]) for v in data["versus_baseline"]] == [
            ("2 x sync", "1 x sync")
        ]
        assert data["versus_baseline"][0]["effect"]["verdict"] == "significant"
        markdown = files.markdown_path.read_text()
        assert "conclusive after" in markdown and "against the baseline 1 x sync" in markdown
        assert files.svg_path.read_text().startswith("<")
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))  # archived


async def test_cancelling_interleaved_rounds_restores_the_original_config(
    logged_gunicorn: Callable[..., LocalGunicorn],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = logged_gunicorn("-w", "1")
    app = dashboard(server, tmp_path, settings=ROUNDS)
    async with app.run_test(size=(110, 44)) as pilot:
        form = await open_form(app, pilot)
        await fill(pilot, form, workers="2,3", worker_classes="sync", cap_s="300", **SLEEP_LOAD)
        screen = await start(app, pilot)

        def in_rounds() -> bool:
            last = screen.last
            return last is not None and last.rounds is not None and last.rounds.round >= 1

        await wait_for(pilot, in_rounds, 60, "the second round")
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.result is not None, 60, "the cancelled end")
        result = screen.result
        assert result is not None
        assert result.status is SweepStatus.CANCELLED, result.reason
        assert result.restored and result.config_now == "1 x sync"
        await wait_for(pilot, lambda: live_workers(server) == 1, 20, "1 worker again")
        await wait_for(pilot, lambda: not app.sweeps.running, 10, "sweep not running")
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))


async def test_a_grid_with_a_re_create_is_measured_in_turn_and_says_why(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # The class on the command line: only a re-create changes it, so the
    # rounds' cheap switches are not available and the sweep falls back.
    container, _port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-k", "sync",
                                          *ACCESS)  # fmt: skip
    name = container.name or ""
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    app = GtuiApp(
        monitor,
        refresh_s=0.5,
        engine=ControlEngine(state_directory=tmp_path / "state", docker_client=docker_client),
        export_dir=tmp_path / "exports",
        sweep_settings=ROUNDS,
    )
    async with app.run_test(size=(110, 44)) as pilot:
        form = await open_form(app, pilot)
        await fill(pilot, form, workers="1", worker_classes="sync,gthread", threads="2",
                   measure_s="3", warmup_s="3", profile="", rate="20", concurrency="",
                   path="/")  # fmt: skip
        assert not form.query_one("#sweep-in-turn", Checkbox).value
        screen = await start(app, pilot)
        await wait_for(
            pilot, lambda: screen.result is not None or screen.error is not None, 240, "the end"
        )
        result = screen.result
        assert result is not None, screen.error
        assert result.verdict is None  # no rounds: each config once, in turn
        assert [r.config.label for r in result.results] == ["1 x sync", "1 x gthread/2"]
        why = " ".join(result.notes)
        assert "not interleaved" in why and "1 x gthread/2" in why and "re-create" in why, why
        text = str(screen.query_one("#sweep-verdict").render())
        assert "not interleaved" in text and "re-create" in text, text
        assert result.restored and result.config_now == "1 x sync", result.reason
        await wait_for(
            pilot, lambda: not app.sweeps.running and not app.slot.busy, 20, "sweep not busy"
        )
    monitor.close()
    assert result.results[0].status is ConfigStatus.MEASURED, result.results[0]
    # Restored by a re-create: the container of that name runs 1 sync worker.
    assert wait_worker_count(docker_client.containers.get(name), 1) == 1

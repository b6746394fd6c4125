"""Actions on a master outside containers on host B, run by B's gtui over SSH.

Host B is this machine behind its own sshd (tests/remote/conftest.py); its
"installed" gtui is this checkout with its own state directory
(GTUI_REMOTE_GTUI, as a user would point at a venv), so B's journal and
audit are told apart from this side's. The Gunicorn master is a real one
started on the host; the local gtui sees it only as ``hostb/pid:N``, through
B's agent, and acts on it only through B's gtui.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from gunicorn_tui.access.endpoints import resolve_endpoints
from gunicorn_tui.control.durability.journal import JournalStore
from gunicorn_tui.control.durability.state_dir import STATE_DIR_ENV
from gunicorn_tui.control.engine import ActionRefused, ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest, ScaleMode, ScaleRequest
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.control.helpers import PlainGunicornFactory, serves
from tests.core.monitor_waits import run_gtui
from tests.harness.crash_after_step import run_crashing_gtui
from tests.harness.local_gunicorn import LocalGunicorn, LocalGunicornFactory
from tests.remote.conftest import HostB

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="B's sshd logs in as root")


def _workers(server: LocalGunicorn) -> int:
    return len(psutil.Process(server.pid).children())


def _wait_workers(server: LocalGunicorn, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _workers(server) != count:
        assert time.monotonic() < deadline, f"{_workers(server)} workers, not {count}"
        time.sleep(0.2)


@pytest.fixture
def states(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """(this side's state directory, B's gtui's), B's gtui pointed at its own."""
    local, remote = tmp_path / "local-state", tmp_path / "b-state"
    monkeypatch.setenv(STATE_DIR_ENV, str(local))
    command = f"env {STATE_DIR_ENV}={shlex.quote(str(remote))} {sys.executable} -m gunicorn_tui"
    monkeypatch.setenv("GTUI_REMOTE_GTUI", command)
    yield local, remote


def _audit(state: Path) -> list[dict[str, object]]:
    path = state / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _archived(state: Path) -> list[dict[str, object]]:
    archive = state / "archive"
    if not archive.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(archive.glob("*.json"))]


def test_scale_a_host_master_on_b_through_bs_gtui(
    host_b: HostB, local_gunicorn: LocalGunicornFactory, states: tuple[Path, Path]
) -> None:
    local_state, remote_state = states
    server = local_gunicorn.start("-w", "2")
    _wait_workers(server, 2)
    target = f"hostb/pid:{server.pid}"

    dry = run_gtui("scale", target, "+1", "--dry-run", "--json", "-H", host_b.url,
                   timeout_s=120)  # fmt: skip
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = json.loads(dry.stdout)["plan"]
    assert plan["host"] == "hostb" and plan["ok"], plan
    assert any("run by the gtui there over SSH" in note for note in plan["notes"]), plan
    assert _workers(server) == 2  # a dry run changes nothing

    done = run_gtui("scale", target, "+1", "--yes", "--json", "-H", host_b.url, timeout_s=180)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["plan"]["host"] == "hostb"
    assert document["outcome"]["status"] == "ok", document["outcome"]
    _wait_workers(server, 3)

    # B's gtui journaled and audited it (on B); this side's audit names B.
    (archived,) = [a for a in _archived(remote_state) if a.get("action") == "scale"]
    (remote_line,) = [r for r in _audit(remote_state) if r["action"] == "scale"]
    assert remote_line["outcome"] == "ok" and remote_line["journal_id"] == archived["id"]
    (local_line,) = _audit(local_state)
    assert local_line["host"] == "hostb" and local_line["outcome"] == "ok"
    assert local_line["journal_id"] == f"hostb:{archived['id']}"
    assert not _archived(local_state)  # no journal of B's action here


def test_without_gtui_on_b_a_host_master_is_refused_with_the_hint(
    host_b: HostB,
    local_gunicorn: LocalGunicornFactory,
    states: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", "/nonexistent/gtui")
    server = local_gunicorn.start("-w", "1")
    done = run_gtui("scale", f"hostb/pid:{server.pid}", "+1", "--yes", "-H", host_b.url,
                    timeout_s=120)  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert "no gtui on hostb" in line and "install gtui on hostb" in line, line
    assert _workers(server) == 1


def test_an_absent_or_recycled_pid_is_refused(
    host_b: HostB, local_gunicorn: LocalGunicornFactory, states: tuple[Path, Path]
) -> None:
    gone = local_gunicorn.start("-w", "1")
    pid = gone.pid
    local_gunicorn.stop(gone)
    absent = run_gtui("scale", f"hostb/pid:{pid}", "+1", "--yes", "-H", host_b.url,
                      timeout_s=120)  # fmt: skip
    assert absent.returncode != 0 and "Traceback" not in absent.stderr
    assert f"hostb/pid:{pid}" in absent.stderr, absent.stderr

    # What B's gtui is handed for a plan confirmed for another process that
    # had this pid (started at another time): refused there, nothing done.
    server = local_gunicorn.start("-w", "1")
    ticks = int(Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    recycled = run_gtui("scale", f"pid:{server.pid}", "+1", "--yes", "--json", "--no-docker",
                        "--expect-master", f"{server.pid}:{ticks - 1}")  # fmt: skip
    assert recycled.returncode != 0
    assert "no longer the master the plan was confirmed for" in recycled.stderr, recycled.stderr
    assert _workers(server) == 1


def test_engine_plans_there_and_refuses_a_plan_overtaken_before_it_runs(
    host_b: HostB, local_gunicorn: LocalGunicornFactory, states: tuple[Path, Path]
) -> None:
    """The dashboard's path: ControlEngine.plan_scale, then execute."""
    from gunicorn_tui.cli.engine_hosts import remote_gtuis

    server = local_gunicorn.start("-w", "2")
    _wait_workers(server, 2)
    text = f"hostb/pid:{server.pid}"
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(text, ("hostb",)),),
            engines=resolve_endpoints([host_b.url], []),
            collect_traffic=False,
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)
    try:
        monitor.check_targets()
        deadline = time.monotonic() + 30
        while True:
            instances = [s for s in monitor.sample().instances if s.master.pid == server.pid]
            if instances:
                break
            assert time.monotonic() < deadline
            time.sleep(0.5)
        (sample,) = instances
        assert sample.host == "hostb" and sample.container is None
        engine = ControlEngine(host="hostb", remote_gtuis=remote_gtuis(monitor))
        plan = engine.plan_scale(sample, ScaleRequest(ScaleMode.ADD, 1))
        assert plan.ok and plan.target.host == "hostb", plan.refusal
        # Someone else adds a worker after the plan was confirmed: "+1" now
        # means 3 -> 4, not the 2 -> 3 confirmed. B's gtui refuses it.
        os.kill(server.pid, signal.SIGTTIN)
        _wait_workers(server, 3)
        with pytest.raises(ActionRefused, match="no longer the one confirmed"):
            engine.execute(plan)
        assert _workers(server) == 3

        # Words reach B's gtui as words: nothing of them runs in B's shell.
        planted = states[1].parent / "planted"
        hostile = RetuneRequest(worker_class=f"gthread;touch {planted};$(touch {planted})")
        with pytest.raises(ActionRefused, match=r"^hostb: unknown worker class 'gthread;touch"):
            engine.plan_retune(sample, hostile)
        assert not planted.exists()

        fresh = engine.plan_scale(sample, ScaleRequest(ScaleMode.SET, 2))
        outcome = engine.execute(fresh)
        assert outcome.ok, outcome.summary()
        _wait_workers(server, 2)

        # An interrupt here (Ctrl-C, the dashboard quitting) closes the
        # channel's stdin: B's gtui honours it as its own (SIGHUP), cuts its
        # step short and answers where the service stands.
        reload = engine.plan_reload(sample)
        interrupt = Interrupt()
        interrupt.request("SIGINT")
        stopped = engine.execute(reload, interrupt=interrupt)
        assert stopped.interrupted == "SIGINT", stopped.summary()
        (there,) = [a for a in _archived(states[1]) if a.get("action") == "reload"]
        there_outcome = there["outcome"]
        assert isinstance(there_outcome, dict) and there_outcome["interrupted"] == "SIGHUP"
        assert psutil.pid_exists(server.pid) and serves(server.port)
    finally:
        monitor.close()


def test_recover_with_h_settles_an_action_journaled_on_b_by_bs_gtui(
    host_b: HostB,
    local_gunicorn: LocalGunicornFactory,
    states: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    local_state, remote_state = states
    server = local_gunicorn.start("-w", "1")
    _wait_workers(server, 1)
    # B's gtui killed once its journal is written, before the first step
    # (as when the SSH link or B's gtui dies mid-action).
    killed = run_crashing_gtui(0, "scale", f"pid:{server.pid}", "+1", "--yes", "--no-docker",
                               env={STATE_DIR_ENV: str(remote_state)})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (pending,) = JournalStore(remote_state).pending()

    # Without a gtui on B: the command to run there, nothing settled.
    with_gtui = os.environ["GTUI_REMOTE_GTUI"]
    monkeypatch.setenv("GTUI_REMOTE_GTUI", "/nonexistent/gtui")
    without = run_gtui("recover", "-H", host_b.url, timeout_s=120)
    assert without.returncode == 0 and "Traceback" not in without.stderr
    assert "no gtui on hostb" in without.stdout and "run `gtui recover` on hostb" in without.stdout
    assert [j.id for j in JournalStore(remote_state).pending()] == [pending.id]

    monkeypatch.setenv("GTUI_REMOTE_GTUI", with_gtui)
    recovered = run_gtui("recover", "-H", host_b.url, timeout_s=180)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    (line,) = [row for row in recovered.stdout.splitlines() if pending.id in row]
    assert line.startswith("hostb: ") and f"scale pid:{server.pid}" in line, line
    assert JournalStore(remote_state).pending() == []
    assert not JournalStore(local_state).pending()


@pytest.fixture
def plain_gunicorn(tmp_path: Path) -> Iterator[PlainGunicornFactory]:
    """Host masters whose command line is readable (no setproctitle), and
    the masters a restart started, stopped at teardown."""
    factory = PlainGunicornFactory(tmp_path / "servers")
    try:
        yield factory
    finally:
        factory.close()


def test_reload_and_a_confirmed_restart_of_a_master_on_b(
    host_b: HostB, plain_gunicorn: PlainGunicornFactory, states: tuple[Path, Path]
) -> None:
    local_state, remote_state = states
    server = plain_gunicorn.start("-w", "2", titled=False)
    target = f"hostb/pid:{server.pid}"
    before = {w.pid for w in psutil.Process(server.pid).children()}

    reload = run_gtui("reload", target, "--yes", "--json", "-H", host_b.url, timeout_s=180)
    assert reload.returncode == 0, reload.stdout + reload.stderr
    assert json.loads(reload.stdout)["outcome"]["status"] == "ok"
    after = {w.pid for w in psutil.Process(server.pid).children()}
    assert after and not after & before  # HUP: every worker new

    # A setting not pinned: in place, a config file B's gtui writes and a HUP.
    in_place = run_gtui("retune", target, "--timeout", "40", "--yes", "--json",
                        "-H", host_b.url, timeout_s=180)  # fmt: skip
    assert in_place.returncode == 0, in_place.stdout + in_place.stderr
    document = json.loads(in_place.stdout)
    assert "HUP" in document["plan"]["strategy"], document["plan"]
    assert document["outcome"]["status"] == "ok", document["outcome"]
    assert (server.cwd / "gunicorn.conf.py").exists()

    # A pinned setting needs a restart: refused without --restart (the
    # consent is the local command line's, passed to B's gtui) ...
    refused = run_gtui("retune", target, "--workers", "3", "--timeout", "25", "--yes",
                       "-H", host_b.url, timeout_s=180)  # fmt: skip
    assert refused.returncode != 0 and "--restart" in refused.stdout, refused.stdout
    # ... and done with it, by B's gtui: a new master serving the new config.
    done = run_gtui("retune", target, "--workers", "3", "--timeout", "25", "--restart", "--yes",
                    "--json", "-H", host_b.url, timeout_s=240)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)["outcome"]
    new_pid = outcome["new_master_pid"]
    plain_gunicorn.adopt(new_pid)
    assert outcome["status"] == "ok" and new_pid and new_pid != server.pid, outcome
    assert serves(server.port)
    assert len(psutil.Process(new_pid).children()) == 3
    actions = [line["action"] for line in _audit(remote_state)]
    assert actions == ["reload", "retune", "retune"], actions
    assert [line["host"] for line in _audit(local_state)] == ["hostb"] * 3


async def test_scale_from_the_dashboard_runs_on_b_by_bs_gtui(
    host_b: HostB, local_gunicorn: LocalGunicornFactory, states: tuple[Path, Path]
) -> None:
    from argparse import Namespace

    from gunicorn_tui.cli.dashboard_commands import _engine as dashboard_engine
    from gunicorn_tui.ui.actions.confirm_screen import ConfirmPlanScreen
    from gunicorn_tui.ui.app import GtuiApp
    from tests.ui.test_actions import wait_for

    local_state, remote_state = states
    server = local_gunicorn.start("-w", "2")
    _wait_workers(server, 2)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"hostb/pid:{server.pid}", ("hostb",)),),
            engines=resolve_endpoints([host_b.url], []),
            statsd_address=None,
        )
    )
    monitor.open(wait_for_docker_s=30)
    app = GtuiApp(
        monitor,
        refresh_s=0.5,
        engine_factory=lambda: dashboard_engine(Namespace(read_only=False), monitor),
    )
    async with app.run_test(size=(120, 32)) as pilot:
        await wait_for(
            pilot,
            lambda: app.frame is not None and any(s.host == "hostb" for s in app.frame.instances),
            60,
            "B's master in a frame",
        )
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmPlanScreen), 60, "the plan")
        screen = app.screen
        assert isinstance(screen, ConfirmPlanScreen)
        assert screen.plan.ok and screen.plan.target.host == "hostb", screen.plan.refusal
        assert _workers(server) == 2  # nothing before the confirmation
        await pilot.press("y")
        await wait_for(pilot, lambda: app.last_outcome is not None, 120, "the outcome")
        outcome = app.last_outcome
        assert outcome is not None
        assert outcome.ok, outcome.summary()
    _wait_workers(server, 3)
    assert [line["action"] for line in _audit(remote_state)] == ["scale"]
    assert [line["host"] for line in _audit(local_state)] == ["hostb"]

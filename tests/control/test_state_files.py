"""Journal, archive, audit log and per-instance locks in the state directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gunicorn_tui.control.durability.audit_log import AuditLog, AuditRecord
from gunicorn_tui.control.durability.journal import JournalStore
from gunicorn_tui.control.durability.state_dir import state_dir
from gunicorn_tui.control.durability.target_lock import LockHeld, TargetLock
from gunicorn_tui.control.planning.planner import plan_retune
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import ConfigSource
from tests.control.data import facts, inspect, sample


def test_state_dir_follows_the_override_then_xdg_then_home() -> None:
    assert state_dir({"GTUI_STATE_DIR": "/t/s", "XDG_STATE_HOME": "/x"}) == Path("/t/s")
    assert state_dir({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/x/gunicorn-tui")
    assert state_dir({"XDG_STATE_HOME": "relative", "HOME": "/h"}) == Path(
        "/h/.local/state/gunicorn-tui"
    )


def test_a_journal_keeps_the_plan_and_inspect_through_to_the_archive(tmp_path: Path) -> None:
    plan = plan_retune(
        sample(),
        facts(layers={"workers": ConfigSource.COMMAND_LINE}),
        RetuneRequest(workers=4, timeout=50),
    )
    store = JournalStore(tmp_path)
    journal = store.begin(plan, inspect())
    on_disk = json.loads(journal.path.read_text())
    assert on_disk["original_inspect"] == inspect() and on_disk["phase"] == "running"
    journal.step_done(0, "created")
    journal.remember(new_container_id="n" * 64)
    reread = store.pending()[0]
    assert reread.steps_done == 1 and reread.context["new_container_id"] == "n" * 64
    assert reread.plan == plan
    journal.archive({"status": "ok"})
    assert store.pending() == []
    (archived,) = store.archived()
    assert archived.plan == plan and archived.data["original_inspect"] == inspect()
    assert archived.outcome_status == "ok" and archived.lock_key == "container-web"


def test_an_unreadable_journal_is_reported_not_deleted(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    (tmp_path / "journal").mkdir()
    bad = tmp_path / "journal" / "broken.json"
    bad.write_text("{not json")
    assert store.pending() == [] and store.unreadable_pending() == [bad]
    assert bad.exists()


def test_the_audit_log_appends_lines_and_counts_bad_ones(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.append(AuditRecord(1.0, "web:1", "scale", "signals", "ok", {"workers": 2}, {"workers": 3}))
    with open(log.path, "a") as handle:
        handle.write("garbage\n")
    log.append(AuditRecord(2.0, "web:1", "retune", None, "failed", error="boom"))
    reading = log.read()
    assert [r.action for r in reading.records] == ["scale", "retune"]
    assert reading.records[0].after == {"workers": 3} and reading.records[1].error == "boom"
    assert reading.skipped_lines == 1


_HOLDER = """
import sys, time
from pathlib import Path
from gunicorn_tui.control.durability.target_lock import TargetLock
lock = TargetLock(Path(sys.argv[1]), "container-web", "retune")
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_lock_refuses_a_second_holder_and_dies_with_its_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"retune by pid {holder.pid}"):
            TargetLock(tmp_path, "container-web", "scale").acquire()
        # A different instance is not blocked.
        with TargetLock(tmp_path, "container-other", "scale"):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 5
        while True:
            try:
                with TargetLock(tmp_path, "container-web", "scale"):
                    break
            except LockHeld:
                assert time.monotonic() < deadline, "lock not released by a killed holder"
                time.sleep(0.05)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_the_same_process_cannot_take_a_lock_twice(tmp_path: Path) -> None:
    with TargetLock(tmp_path, "pid-1", "retune"), pytest.raises(LockHeld):
        TargetLock(tmp_path, "pid-1", "retune").acquire()

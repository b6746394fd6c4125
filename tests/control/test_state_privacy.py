"""Secrets at rest: the state directory is private (directories 0700, files
0600) whatever an older gtui or a umask left, enforced when gtui starts; the
archive keeps the last few actions per target; a container's environment
is kept only in private files, never in the audit log or what gtui prints."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest

from gunicorn_tui.access.host_commands import RunAs, start_as_master
from gunicorn_tui.control.durability.archive_pruning import ARCHIVE_KEEP
from gunicorn_tui.control.durability.audit_log import AuditLog, AuditRecord
from gunicorn_tui.control.durability.journal import JournalStore
from gunicorn_tui.control.durability.state_dir import secure_state_dir, write_durably
from gunicorn_tui.control.planning.planner import plan_reload, plan_retune
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import ConfigSource
from tests.control.data import facts, inspect, sample
from tests.control.helpers import gunicorn_container, run_gtui, serves
from tests.harness.containers import ContainerFactory
from tests.images import tags


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _lay_out_wide(state: Path, outside: Path) -> None:
    """A state directory as an older gtui (or a umask of 022) left it, with
    links to files and directories outside it."""
    for directory in (state, state / "journal", state / "archive", state / "logs"):
        directory.mkdir(mode=0o755, exist_ok=True)
        directory.chmod(0o755)
    for file in (
        state / "audit.jsonl",
        state / "journal" / "20260101T000000-aaaaaaaa.json",
        state / "archive" / "20250101T000000-bbbbbbbb.json",
        state / "logs" / "master-1234.log",
    ):
        file.write_text("{}\n")
        file.chmod(0o644)
    outside.mkdir(mode=0o755)
    (outside / "shared.txt").write_text("not gtui's\n")
    (outside / "shared.txt").chmod(0o644)
    os.symlink(outside / "shared.txt", state / "archive" / "link.json")
    os.symlink(outside, state / "sweeps")


def _assert_private(state: Path, outside: Path) -> None:
    for root, dirs, files in os.walk(state):
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink():
                assert _mode(path) == 0o700, path
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                assert _mode(path) == 0o600, path
    assert _mode(state) == 0o700
    # Links are never followed: what they point at keeps its mode.
    assert _mode(outside) == 0o755
    assert _mode(outside / "shared.txt") == 0o644


def test_secure_state_dir_fixes_every_mode_and_follows_no_link(tmp_path: Path) -> None:
    state, outside = tmp_path / "state", tmp_path / "outside"
    _lay_out_wide(state, outside)
    fixed = secure_state_dir(state)
    assert sorted(Path(p).relative_to(state).as_posix() for p in fixed) == sorted(
        [
            ".",
            "journal",
            "archive",
            "logs",
            "audit.jsonl",
            "journal/20260101T000000-aaaaaaaa.json",
            "archive/20250101T000000-bbbbbbbb.json",
            "logs/master-1234.log",
        ]
    )
    _assert_private(state, outside)
    assert secure_state_dir(state) == ()  # nothing left to fix
    assert secure_state_dir(tmp_path / "absent") == ()
    assert not (tmp_path / "absent").exists()


def test_a_wide_state_dir_is_made_private_when_gtui_starts(tmp_path: Path) -> None:
    state, outside = tmp_path / "state", tmp_path / "outside"
    _lay_out_wide(state, outside)
    result = run_gtui("recover", "--list", env={"GTUI_STATE_DIR": str(state)})
    assert result.returncode == 0, result.stderr
    _assert_private(state, outside)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_what_gtui_writes_is_private_whatever_the_umask(tmp_path: Path) -> None:
    state = tmp_path / "state"
    plan = plan_retune(
        sample(), facts(layers={"workers": ConfigSource.COMMAND_LINE}), RetuneRequest(workers=4)
    )
    with _umask(0):
        journal = JournalStore(state).begin(plan, inspect(env=["DATABASE_URL=postgres://x"]))
        assert _mode(journal.path) == 0o600 and _mode(journal.path.parent) == 0o700
        archived = journal.archive({"status": "ok"})
        assert _mode(archived) == 0o600 and _mode(archived.parent) == 0o700
        AuditLog(state).append(AuditRecord(1.0, "web:1", "retune", None, "ok"))
        assert _mode(state / "audit.jsonl") == 0o600
        write_durably(state / "other.json", b"{}")
        assert _mode(state / "other.json") == 0o600
        log = state / "logs" / "master-1.log"
        pid = _start([sys.executable, "-c", "print('started')"], log)
        deadline = time.monotonic() + 10
        while "started" not in log.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert pid > 0 and _mode(log) == 0o600 and _mode(log.parent) == 0o700


def test_the_archive_keeps_the_last_few_per_target_and_what_revert_needs(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    pinned = facts(layers={"workers": ConfigSource.COMMAND_LINE})
    retune = plan_retune(sample(), pinned, RetuneRequest(workers=4))
    reload = plan_reload(sample(), pinned)
    other = plan_retune(sample(master_pid=5000, container=False), facts(container=False),
                        RetuneRequest(workers=3))  # fmt: skip
    assert retune.target.lock_key != other.target.lock_key

    def archive(plan: object, at: float, status: str = "ok") -> None:
        journal = store.begin(plan, inspect())  # type: ignore[arg-type]
        journal.data["created_at"] = at
        journal.archive({"status": status})

    archive(retune, 1.0)  # the retune `gtui revert` would undo...
    archive(other, 2.0)
    archive(retune, 3.0, status="failed")
    for index in range(ARCHIVE_KEEP + 5):  # ...then many reloads
        archive(reload, 10.0 + index)
    kept = store.archived()
    mine = [a for a in kept if a.lock_key == retune.target.lock_key]
    assert len(mine) == ARCHIVE_KEEP + 1
    assert [a.created_at for a in mine] == [1.0] + [10.0 + i for i in range(5, ARCHIVE_KEEP + 5)]
    assert mine[0].revertible
    # Another target's archive is its own.
    assert [a.created_at for a in kept if a.lock_key == other.target.lock_key] == [2.0]


# -- a real re-create ----------------------------------------------------------------------


def _files_holding(root: Path, secret: str) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and secret in path.read_text(errors="replace"):
            found.append(path)
    return found


@pytest.mark.slow
def test_a_containers_env_stays_in_private_files_only(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    secret = f"postgres://app:{uuid.uuid4().hex}@db/app"
    container, port = gunicorn_container(
        container_factory, tags.GUNICORN_LATEST, "-w", "2",
        env={"DATABASE_URL": secret},
    )  # fmt: skip
    name = str(container.name)
    state = tmp_path / "state"
    env = {"GTUI_STATE_DIR": str(state)}

    dry = run_gtui("retune", name, "--workers", "3", "--timeout", "50", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "re-create" in dry.stdout and secret not in dry.stdout + dry.stderr
    done = run_gtui("retune", name, "--workers", "3", "--timeout", "50", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert secret not in done.stdout + done.stderr
    assert serves(port)
    assert f"DATABASE_URL={secret}" in docker_client.containers.get(name).attrs["Config"]["Env"]

    snapshot = run_gtui("snapshot", name, "--json", "--statsd", "off", env=env)
    assert snapshot.returncode == 0, snapshot.stderr
    assert secret not in snapshot.stdout
    listed = run_gtui("ls", name, env=env)
    assert listed.returncode == 0 and secret not in listed.stdout

    holding = _files_holding(state, secret)
    # The archived journal keeps the original inspect for revert: private.
    assert holding and all(path.parent.name == "archive" for path in holding), holding
    assert all(_mode(path) == 0o600 for path in holding)
    assert all(_mode(directory) == 0o700 for directory in (state, state / "archive"))
    audit = (state / "audit.jsonl").read_text()
    assert secret not in audit and json.loads(audit.splitlines()[-1])["outcome"] == "ok"


def _start(argv: list[str], log: Path) -> int:
    """Start a host master as gtui's own user, its output to ``log``."""
    me = RunAs(os.getuid(), os.getgid())
    return start_as_master(argv, environment=dict(os.environ), cwd="/", run_as=me, log_path=log)


def test_start_master_log_reopened_private(tmp_path: Path) -> None:
    """A master log left 0644 by an older gtui is made 0600 when appended to."""
    log = tmp_path / "logs" / "master-9.log"
    log.parent.mkdir(mode=0o755)
    log.write_text("old\n")
    log.chmod(0o644)
    process_pid = _start([sys.executable, "-c", "pass"], log)
    assert process_pid > 0
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700

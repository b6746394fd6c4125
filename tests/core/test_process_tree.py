"""Recognising masters and workers from real process tables.

The tables in ``data/process_tables.json`` were captured from the test images
(host pid, parent pid and ``/proc/<pid>/cmdline`` of every process in the
container, read on the host) and from a host Gunicorn started by the harness.
Each case says which trees it holds.
"""

from __future__ import annotations

from typing import Any

import pytest

from gunicorn_tui.host.process_tree import (
    ProcRecord,
    Role,
    find_trees,
    gunicorn_args,
    is_gunicorn,
    name_from_args,
    parse_title,
    role_under_master,
)
from tests.core.data_files import load_json

TABLES: dict[str, Any] = load_json("process_tables.json")


def _records(case: dict[str, Any]) -> list[ProcRecord]:
    return [ProcRecord(pid, ppid, tuple(argv)) for pid, ppid, argv in case["processes"]]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_find_trees_on_captured_process_tables(name: str) -> None:
    case = TABLES[name]
    trees = find_trees(_records(case))
    found = [
        {
            "master_pid": tree.master_pid,
            "workers": list(tree.workers),
            "name": tree.name,
            "titled": tree.titled,
            "parent_master_pid": tree.parent_master_pid,
        }
        for tree in trees
    ]
    assert found == case["expected_trees"], case["description"]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_find_trees_ignores_the_order_of_the_table(name: str) -> None:
    case = TABLES[name]
    records = _records(case)
    assert find_trees(reversed(records)) == find_trees(records)


def test_wrappers_and_lookalikes_are_not_gunicorn() -> None:
    # Processes that mention gunicorn without being it, next to a real server.
    noise = [
        ProcRecord(10, 1, ("sh", "-c", "gunicorn -b 127.0.0.1:8000 app:app; exit $?")),
        ProcRecord(11, 1, ("tini", "--", "gunicorn", "app:app")),
        ProcRecord(12, 1, ("grep", "gunicorn")),
        ProcRecord(13, 1, ("python3", "-m", "pytest", "-k", "gunicorn")),
        ProcRecord(14, 1, ("python3", "-c", "import gunicorn")),
        ProcRecord(15, 1, ("vim", "gunicorn.conf.py")),
        ProcRecord(16, 1, ("python3", "manage.py", "gunicorn")),
        ProcRecord(17, 1, ("/usr/bin/gunicornc", "-s", "/run/gunicorn.ctl", "-c", "show all")),
        ProcRecord(20, 10, ("gunicorn: master [app:app]",)),
        ProcRecord(21, 20, ("gunicorn: worker [app:app]",)),
    ]
    for record in noise[:8]:
        assert not is_gunicorn(record.argv), record.argv
    trees = find_trees(noise)
    assert [(tree.master_pid, tree.workers) for tree in trees] == [(20, (21,))]


def test_a_master_with_no_workers_yet_is_still_a_master() -> None:
    trees = find_trees(
        [
            ProcRecord(1, 0, ("sh", "-c", "python -m gunicorn app:app")),
            ProcRecord(7, 1, ("python", "-m", "gunicorn", "app:app")),
        ]
    )
    assert [(tree.master_pid, tree.workers, tree.name) for tree in trees] == [(7, (), "app:app")]


def test_dirty_arbiter_and_its_workers_are_auxiliary() -> None:
    trees = find_trees(
        [
            ProcRecord(1, 0, ("gunicorn: master [api]",)),
            ProcRecord(8, 1, ("gunicorn: worker [api]",)),
            ProcRecord(9, 1, ("gunicorn: dirty-arbiter",)),
            ProcRecord(10, 9, ("gunicorn: dirty-worker [api]",)),
        ]
    )
    assert len(trees) == 1
    assert trees[0].workers == (8,)
    assert trees[0].auxiliary == (9,)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["gunicorn: master [app:app]"], (Role.MASTER, "app:app")),
        # setproctitle pads with spaces on some versions.
        (["gunicorn: worker [app:app]" + " " * 40], (Role.WORKER, "app:app")),
        (["gunicorn: master [app:app.2]"], (Role.MASTER, "app:app.2")),
        (["gunicorn: master [my api]"], (Role.MASTER, "my api")),
        (["gunicorn: dirty-arbiter"], (Role.DIRTY_ARBITER, None)),
        (["gunicorn: dirty-worker [api]"], (Role.DIRTY_WORKER, "api")),
        (["gunicorn", "app:app"], None),
        (["/usr/bin/python3", "/opt/gtui/site/bin/gunicorn", "app:app"], None),
        (["gunicorn: arbiter"], None),
        ([], None),
    ],
)
def test_parse_title(argv: list[str], expected: tuple[Role, str | None] | None) -> None:
    assert parse_title(argv) == expected


@pytest.mark.parametrize(
    "name",
    ["nosetproctitle", "nosetproctitle_python_m", "python3_script", "two_masters"],
)
def test_gunicorn_args_of_captured_untitled_masters(name: str) -> None:
    case = TABLES[name]
    by_pid = {pid: argv for pid, _, argv in case["processes"]}
    for tree in case["expected_trees"]:
        args = gunicorn_args(by_pid[tree["master_pid"]])
        assert args is not None
        # The arguments are what follows the script or module, ending in the app.
        assert args[-1] == "app:app"
        assert args[0] == "-b"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["gunicorn", "-w", "2", "app:app"], ["-w", "2", "app:app"]),
        (["/opt/gtui/site/bin/gunicorn", "app:app"], ["app:app"]),
        (["/usr/bin/python3", "/opt/gtui/site/bin/gunicorn", "-w", "2"], ["-w", "2"]),
        (["python3", "-m", "gunicorn", "app:app"], ["app:app"]),
        (["python", "-mgunicorn", "app:app"], ["app:app"]),
        (["python3.11", "-u", "-X", "dev", "-m", "gunicorn", "app:app"], ["app:app"]),
        (["/usr/local/bin/python3.11", "-W", "ignore", "-m", "gunicorn", "x:y"], ["x:y"]),
        (["python", "-m", "gunicorn.app.wsgiapp", "app:app"], ["app:app"]),
        (["pypy3", "/venv/bin/gunicorn", "app:app"], ["app:app"]),
        (["gunicorn_paster", "development.ini"], ["development.ini"]),
        (["python3", "-m", "uvicorn", "app:app"], None),
        (["python3", "-m"], None),
        (["python3", "serve.py", "gunicorn"], None),
        (["uwsgi", "--http", ":8000"], None),
        (["gunicorn: master [app:app]"], None),
        ([], None),
    ],
)
def test_gunicorn_args(argv: list[str], expected: list[str] | None) -> None:
    result = gunicorn_args(argv)
    assert (list(result) if result is not None else None) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-b", "127.0.0.1:8000", "-w", "2", "app:app"], "app:app"),
        (["--name", "second", "app:app"], "second"),
        (["-n", "api", "app:app"], "api"),
        (["--name=api", "app:app"], "api"),
        (["--preload", "app:app"], "app:app"),
        (["--bind=127.0.0.1:8000", "--reload", "web.wsgi"], "web.wsgi"),
        (["-c", "gunicorn.conf.py"], None),
    ],
)
def test_name_from_args(args: list[str], expected: str | None) -> None:
    assert name_from_args(args) == expected


# The moments of a USR2 re-exec, as /proc shows them (from the captured
# usr2_titled and usr2_untitled cases, and gunicorn's arbiter.reexec).
TITLED_MASTER = ("gunicorn: master [app:app]",)
UNTITLED_MASTER = ("/usr/bin/python3", "/opt/gtui/site/bin/gunicorn", "-w", "2", "app:app")
PYTHON_M_MASTER = ("python3", "-m", "gunicorn", "-w", "2", "app:app")
# sys.executable + sys.argv: what a `python -m gunicorn` master executes on USR2.
PYTHON_M_REEXEC = ("/usr/bin/python3", "/opt/gtui/site/gunicorn/__main__.py", "-w", "2", "app:app")


@pytest.mark.parametrize(
    ("argv", "parent_argv", "has_children", "expected"),
    [
        # A worker between fork and setproctitle shows its master's title.
        (TITLED_MASTER, TITLED_MASTER, False, Role.WORKER),
        (("gunicorn: worker [app:app]",), TITLED_MASTER, False, Role.WORKER),
        # The new master, executed: Gunicorn's argv until it sets its title...
        (UNTITLED_MASTER, TITLED_MASTER, False, Role.MASTER),
        # ...then master [NAME.2], before and after it forks its workers.
        (("gunicorn: master [app:app.2]",), TITLED_MASTER, False, Role.MASTER),
        (("gunicorn: master [app:app.2]",), TITLED_MASTER, True, Role.MASTER),
        # Untitled: a worker shows its master's words exactly.
        (UNTITLED_MASTER, UNTITLED_MASTER, False, Role.WORKER),
        (UNTITLED_MASTER, UNTITLED_MASTER, True, Role.MASTER),
        (PYTHON_M_MASTER, PYTHON_M_MASTER, False, Role.WORKER),
        (PYTHON_M_REEXEC, PYTHON_M_MASTER, False, Role.MASTER),
        (("gunicorn: dirty-arbiter",), TITLED_MASTER, True, Role.DIRTY_ARBITER),
    ],
)
def test_role_under_master(
    argv: tuple[str, ...], parent_argv: tuple[str, ...], has_children: bool, expected: Role
) -> None:
    assert role_under_master(argv, parent_argv, has_children) is expected


def test_a_new_master_is_a_master_before_it_has_workers() -> None:
    trees = find_trees(
        [
            ProcRecord(1, 0, ("sh", "-c", "gunicorn -w 2 app:app; sleep 600")),
            ProcRecord(7, 1, TITLED_MASTER),
            ProcRecord(8, 7, ("gunicorn: worker [app:app]",)),
            ProcRecord(9, 7, ("gunicorn: worker [app:app]",)),
            ProcRecord(12, 7, UNTITLED_MASTER),
            # A worker forked a moment ago, not titled yet.
            ProcRecord(13, 7, TITLED_MASTER),
        ]
    )
    shapes = [(t.master_pid, t.workers, t.parent_master_pid) for t in trees]
    assert shapes == [(7, (8, 9, 13), None), (12, (), 7)]


def test_python_m_reexec_is_recognised_as_gunicorn() -> None:
    assert gunicorn_args(PYTHON_M_REEXEC) == ("-w", "2", "app:app")
    assert gunicorn_args(("python3", "/srv/app/__main__.py")) is None

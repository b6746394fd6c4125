"""``--log-file PATH``: what discovery, sampling and actions did, on a real
Gunicorn; off by default; a log file that cannot be opened is a usage error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.core.monitor_waits import run_gtui
from tests.harness.local_gunicorn import LocalGunicornFactory


def test_the_log_says_what_discovery_sampling_and_an_action_did(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    server = local_gunicorn.start("--workers", "2")
    log = tmp_path / "gtui.log"
    done = run_gtui(
        "--log-file",
        str(log),
        "snapshot",
        f"pid:{server.pid}",
        "--no-docker",
        "--statsd",
        "off",
        "--interval",
        "0.2",
    )
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert "command snapshot" in text
    assert f"found local:{server.pid}" in text or f"master pid {server.pid}" in text
    assert "gtui.monitor: frame: 1 instances, 2 workers" in text
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600

    acted = run_gtui(
        "--log-file",
        str(log),
        "scale",
        f"pid:{server.pid}",
        "+1",
        "--yes",
        "--no-docker",
        "--statsd",
        "off",
        env={"GTUI_STATE_DIR": str(tmp_path)},
    )
    assert acted.returncode == 0, acted.stderr
    text = log.read_text()
    assert "gtui.actions: plan: " in text
    assert "gtui.actions: outcome: " in text
    assert text.count("command ") == 2  # appended, not overwritten


def test_no_log_unless_asked(local_gunicorn: LocalGunicornFactory, tmp_path: Path) -> None:
    server = local_gunicorn.start("--workers", "1")
    done = run_gtui(
        "snapshot",
        f"pid:{server.pid}",
        "--no-docker",
        "--statsd",
        "off",
        "--interval",
        "0.2",
        env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": ""},
    )
    assert done.returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_log_file_is_one_line_exit_2(tmp_path: Path) -> None:
    done = run_gtui("--log-file", str(tmp_path / "missing-dir" / "gtui.log"), "config")
    assert done.returncode == 2
    assert done.stderr.startswith("gtui config: error: --log-file ")
    assert "No such file or directory" in done.stderr and done.stderr.count("\n") == 1
    link = tmp_path / "link.log"
    link.symlink_to(tmp_path / "elsewhere.log")
    followed = run_gtui("--log-file", str(link), "config")
    assert followed.returncode == 2  # never written through a symbolic link
    assert not (tmp_path / "elsewhere.log").exists()

"""``--json`` on the action commands: the plan and its outcome as one JSON
document on stdout, progress on stderr; on a real Gunicorn."""

from __future__ import annotations

import json
from pathlib import Path

import psutil

from tests.core.monitor_waits import run_gtui
from tests.harness.local_gunicorn import LocalGunicornFactory


def test_scale_json_dry_run_then_for_real(
    local_gunicorn: LocalGunicornFactory, tmp_path: Path
) -> None:
    server = local_gunicorn.start("--workers", "1")
    env = {"GTUI_STATE_DIR": str(tmp_path)}
    common = ("--no-docker", "--statsd", "off", "--json")
    planned = run_gtui("scale", f"pid:{server.pid}", "+1", "--dry-run", *common, env=env)
    assert planned.returncode == 0, planned.stderr
    document = json.loads(planned.stdout)
    assert document["outcome"] is None
    plan = document["plan"]
    assert plan["action"] == "scale" and plan["ok"] is True
    assert plan["change"] == {"workers": [1, 2]}
    assert plan["steps"] and all(step["command"] for step in plan["steps"])
    assert len(psutil.Process(server.pid).children()) == 1  # nothing ran

    done = run_gtui("scale", f"pid:{server.pid}", "+1", "--yes", *common, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is the document alone
    assert result["outcome"]["status"] == "ok"
    assert result["outcome"]["steps_done"] == result["outcome"]["steps_total"]
    assert "[1/" in done.stderr  # progress on stderr

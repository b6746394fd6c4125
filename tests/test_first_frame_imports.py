"""What the dashboard imports before its first frame (issue 16: first frame
<= 0.5 s, and Python's imports are most of it).

In a fresh interpreter, importing the modules the dashboard's start imports
(the CLI, the dashboard command, the app, the monitor) leaves out the code
that only actions, Compare, a guided A/B, a sweep, Persist or a remote
engine use: each is imported when first used (the control engine in a
thread after the first paint). (The Docker client, and with
it requests, is imported by the monitor's Docker thread when it connects.)
"""

from __future__ import annotations

import json
import subprocess
import sys

DASHBOARD_START = (
    "gunicorn_tui.cli.main",
    "gunicorn_tui.cli.dashboard_commands",
    "gunicorn_tui.cli.target_monitor",
    "gunicorn_tui.ui.app",
)
NOT_BEFORE_FIRST_FRAME = (
    # The control engine and what runs actions and sweeps (made after the
    # first paint).
    "gunicorn_tui.control.engine",
    "gunicorn_tui.ui.actions.action_runner",
    "gunicorn_tui.ui.sweep.launcher",
    "gunicorn_tui.ui.compare.ab_launcher",
    # A guided A/B, Compare's export, a sweep, Persist's plans.
    "gunicorn_tui.compare.guided_ab",
    "gunicorn_tui.compare.export",
    "gunicorn_tui.sweep.runner",
    "gunicorn_tui.persist.compose_file",
    "gunicorn_tui.ui.compare.compare_screen",
    "gunicorn_tui.ui.compare.ab_screen",
    "gunicorn_tui.ui.actions.retune_form",
    "gunicorn_tui.ui.persist_screen",
    "gunicorn_tui.ui.sweep.sweep_screen",
    "gunicorn_tui.ui.sweep.sweep_form",
    # The load driver and its profiles.
    "gunicorn_tui.load.profile",
    "gunicorn_tui.load.summary",
    # Remote engines: SSH and the gtui agent.
    "gunicorn_tui.access.ssh_transport",
    "gunicorn_tui.monitor.agent_link",
    # Docker's client (imported in the monitor's Docker thread).
    "docker",
    "requests",
)


def test_the_dashboard_start_leaves_out_what_the_first_frame_does_not_need() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {list(DASHBOARD_START)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert set(DASHBOARD_START) <= loaded
    early = sorted(name for name in NOT_BEFORE_FIRST_FRAME if name in loaded)
    assert early == [], f"imported before the first frame: {early}"

"""The traffic and stats packages are headless: importing every module of
them pulls in neither textual nor rich (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_traffic_and_stats_import_no_ui_library() -> None:
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import gunicorn_tui.traffic, gunicorn_tui.stats\n"
        "names = []\n"
        "for package in (gunicorn_tui.traffic, gunicorn_tui.stats):\n"
        "    for module in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "        names.append(module.name)\n"
        "ui = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(json.dumps({'modules': names, 'ui': ui}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    result = json.loads(output)
    assert "gunicorn_tui.traffic.metrics" in result["modules"]
    assert "gunicorn_tui.traffic.log_follow" in result["modules"]
    assert result["ui"] == []

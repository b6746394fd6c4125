"""The control engine and the CLI's control commands never import textual or rich."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_control_imports_no_ui_library() -> None:
    code = (
        "import sys\n"
        "import gunicorn_tui.control.engine, gunicorn_tui.cli.control_commands\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(loaded))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == ""

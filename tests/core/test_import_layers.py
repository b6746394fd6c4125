"""The headless core's layers: a lower layer never imports a higher one.

The contracts live in pyproject.toml (``[tool.importlinter]``); this runs
import-linter's ``lint-imports`` on them so the test command checks them too.
Reading the host (``gunicorn_tui.host``: /proc, cgroups, the process tree,
no-follow files) and the data model are the bottom; the interpreter probe,
then the access layer and settings (which do not import each other), then
discovery, then sampling stand on them. Inside ``control/`` the phases are
layered too: the façades, then running (and recovery), then durability, then
planning.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_layer_contracts_name_packages_that_exist() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layered = [
        f"{container}.{package.strip()}" if container else package.strip()
        for contract in config["contracts"]
        if contract["type"] == "layers"
        for container in contract.get("containers", [""])
        for layer in contract["layers"]
        for package in layer.split("|")
    ]
    assert {"gunicorn_tui.host", "gunicorn_tui.access", "gunicorn_tui.sampling"} <= set(layered)
    assert "gunicorn_tui.control.planning" in layered
    for package in layered:
        path = ROOT / Path(*package.split("."))
        assert path.is_dir() or path.with_suffix(".py").is_file(), package


def test_no_import_runs_back_up_the_layers() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.exists(), "import-linter is a test dependency: pip install -e '.[test]'"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 broken." in done.stdout, done.stdout

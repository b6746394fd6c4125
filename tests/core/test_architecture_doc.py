"""ARCHITECTURE.md stays true: its layer table is the package's layer contract,
row for row, and every module path it names exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "ARCHITECTURE.md").read_text()
PACKAGE = ROOT / "gunicorn_tui"


def _table_layers() -> list[set[str]]:
    rows = re.findall(r"^\| \d+ \| ([^|]+) \|", DOC, flags=re.MULTILINE)
    return [set(re.findall(r"`([a-z_]+)`", row)) for row in rows]


def test_the_layer_table_is_the_package_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [
        c for c in config["contracts"] if "containers" not in c and c["type"] == "layers"
    ]
    layers = [
        {name.strip().removeprefix("gunicorn_tui.") for name in layer.split("|")}
        for layer in contract["layers"]
    ]
    assert _table_layers() == layers
    named = set().union(*layers)
    present = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} | {
        p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("__")
    }
    assert present == named, "a package is missing from the layers (or gone from the code)"


def test_every_path_the_document_names_exists() -> None:
    paths = set(re.findall(r"`([a-z_/]+(?:\.py|/))`", DOC))
    assert len(paths) > 10
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.glob("gunicorn_tui/**/*.py")]
    folders = [p.relative_to(ROOT).as_posix() + "/" for p in PACKAGE.glob("**/") if p.is_dir()]
    # A path is named from the top (tests/...), or from inside the package,
    # as much of it as the sentence needs (`ui/`, `compare/ab_launcher.py`).
    missing = [
        path
        for path in sorted(paths)
        if not (ROOT / path).exists()
        and not any(f"/{known}".endswith(f"/{path}") for known in files + folders)
    ]
    assert not missing, missing

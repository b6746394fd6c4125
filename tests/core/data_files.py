"""Where the data of the pure-function tests lives, and how it is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    """The path of a file under ``tests/core/data``."""
    return DATA_DIR / name


def load_json(name: str) -> Any:
    """A JSON data file, decoded."""
    return json.loads(data_path(name).read_text())


def read_text(name: str) -> str:
    """A text data file."""
    return data_path(name).read_text()

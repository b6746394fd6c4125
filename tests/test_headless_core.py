"""The headless core never imports the UI toolkit (textual) or its renderer (rich).

Two checks. Statically, no core module has an ``import textual``/``import
rich`` of its own. At run time, in a fresh interpreter, importing every core
module leaves textual out of sys.modules. (rich itself may appear at run time:
``import httpx`` loads httpx's command-line module, which imports rich when it
is installed; that is httpx's import, not ours, and it is not textual.)
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import gunicorn_tui

# The dashboard itself, the commands that start it, and its browser view.
UI_MODULES = (
    "gunicorn_tui.ui",
    "gunicorn_tui.cli.dashboard_commands",
    "gunicorn_tui.browser_view",
)
FORBIDDEN = ("textual", "rich")


def core_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(gunicorn_tui.__path__, "gunicorn_tui."):
        if module.name.startswith(UI_MODULES) or module.name == "gunicorn_tui.__main__":
            continue
        names.append(module.name)
    return sorted(names)


def module_path(name: str) -> Path:
    relative = Path(*name.split("."))
    package = Path(gunicorn_tui.__path__[0]).parent
    candidate = package / relative.with_suffix(".py")
    return candidate if candidate.exists() else package / relative / "__init__.py"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_core_is_what_we_think_it_is() -> None:
    names = core_modules()
    for expected in (
        "gunicorn_tui.host.process_tree",
        "gunicorn_tui.sampling.local_instance",
        "gunicorn_tui.monitor.monitor",
        "gunicorn_tui.cli.main",
    ):
        assert expected in names
    assert not any(name.startswith("gunicorn_tui.ui") for name in names)


def test_no_core_module_imports_textual_or_rich() -> None:
    offenders = {
        name: sorted(imported_roots(module_path(name)) & set(FORBIDDEN)) for name in core_modules()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_importing_the_whole_core_does_not_load_textual() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"headless core pulled in: {loaded[:10]}"

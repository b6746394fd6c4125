"""The interpreter scan on installations laid out as real files.

Each test builds the directories a Python installation really has (a venv
with ``pyvenv.cfg``, site-packages with dist-info, ``.pth`` files, an
editable finder) under ``tmp_path`` and scans them as a process would see
them; nothing is imported or executed from them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gunicorn_tui.interpreter import scan as scanner
from gunicorn_tui.interpreter.scan import (
    OsFiles,
    ProcessFacts,
    ScanResult,
    argv_from_cmdline,
    module_level_imports,
    scan,
)

EXTENSION = "_setproctitle.cpython-311-x86_64-linux-gnu.so"


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def gunicorn_tree(site: Path, version: str = "27.0.1", *, dist_info: bool = True) -> None:
    parts = ", ".join(version.split("."))
    write(site / "gunicorn" / "__init__.py", f"version_info = ({parts})\n")
    write(site / "gunicorn" / "util.py", "import os\n")
    write(site / "gunicorn" / "workers" / "__init__.py", "")
    write(site / "gunicorn" / "workers" / "base.py", "from gunicorn import util\n")
    write(site / "gunicorn" / "workers" / "sync.py", "from gunicorn.workers import base\n")
    write(
        site / "gunicorn" / "workers" / "ggevent.py",
        "import os\n"
        "try:\n    import gevent\nexcept ImportError:\n    raise RuntimeError('needs gevent')\n"
        "else:\n    from packaging.version import parse\n"
        "from gunicorn.workers import base\n",
    )
    write(
        site / "gunicorn" / "workers" / "gthread.py",
        "try:\n    import uvloop_fast_path\nexcept ImportError:\n    pass\n"
        "from concurrent import futures\nfrom . import base\n",
    )
    if dist_info:
        write(
            site / f"gunicorn-{version}.dist-info" / "METADATA",
            f"Metadata-Version: 2.1\nName: gunicorn\nVersion: {version}\n\nbody Version: 0\n",
        )


def venv(root: Path, *, system_site: bool = False) -> Path:
    write(
        root / "pyvenv.cfg",
        f"home = /usr/bin\ninclude-system-site-packages = {str(system_site).lower()}\n"
        "version = 3.11.2\nexecutable = /usr/bin/python3.11\n",
    )
    (root / "bin").mkdir(parents=True, exist_ok=True)
    site = root / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    return site


WORKERS = ("gunicorn.workers.ggevent", "gunicorn.workers.gthread", "gunicorn.workers.sync")


def test_a_console_script_master_in_a_venv(tmp_path: Path) -> None:
    site = venv(tmp_path / "venv")
    gunicorn_tree(site, "23.0.0")
    process = ProcessFacts(
        executable="/usr/bin/python3.11",  # /proc/PID/exe resolves out of the venv
        argv=(str(tmp_path / "venv/bin/python3"), str(tmp_path / "venv/bin/gunicorn"), "app:app"),
        environment={"PATH": "/usr/bin"},
        cwd=str(tmp_path),
    )
    result = scan(process, OsFiles(), WORKERS)
    assert result.gunicorn_version == "23.0.0"
    assert result.python_version == "3.11"
    assert result.gunicorn_path == str(site / "gunicorn" / "__init__.py")
    assert result.modules == {
        "gunicorn.workers.ggevent": False,
        "gunicorn.workers.gthread": True,
        "gunicorn.workers.sync": True,
    }
    assert result.errors["gunicorn.workers.ggevent"] == (
        "ModuleNotFoundError: No module named 'gevent'"
    )


def test_gevent_present_but_packaging_missing_is_missing(tmp_path: Path) -> None:
    site = venv(tmp_path / "venv")
    gunicorn_tree(site)
    write(site / "gevent" / "__init__.py", "")
    process = ProcessFacts(
        executable="/usr/bin/python3.11",
        argv=(str(tmp_path / "venv/bin/python"), "-m", "gunicorn", "app:app"),
        environment={},
        cwd=str(tmp_path),
    )
    missing = scan(process, OsFiles(), WORKERS)
    assert missing.errors["gunicorn.workers.ggevent"].endswith("No module named 'packaging'")
    write(site / "packaging" / "__init__.py", "")
    write(site / "packaging" / "version.py", "")
    assert scan(process, OsFiles(), WORKERS).modules["gunicorn.workers.ggevent"] is True


def test_hidden_command_line_found_through_a_mapped_extension(tmp_path: Path) -> None:
    # setproctitle has replaced argv and environ; its own extension module,
    # mapped into the process, still names the directory it was imported from.
    site = tmp_path / "opt" / "site"
    gunicorn_tree(site, dist_info=False)
    extension = write(site / "setproctitle" / EXTENSION, "")
    write(site / "setproctitle" / "__init__.py", "")
    process = ProcessFacts(
        executable="/usr/bin/python3.11",
        argv=argv_from_cmdline(b"gunicorn: master [app:app]" + b" " * 40),
        environment=None,
        cwd="/",
        mapped_files=("/usr/lib/x86_64-linux-gnu/libc.so.6", str(extension)),
    )
    assert process.argv is None
    result = scan(process, OsFiles(), ("gunicorn.workers.sync",))
    assert result.gunicorn_version == "27.0.1"  # from gunicorn/__init__.py: no dist-info
    assert str(site) in result.import_path
    assert result.modules == {"gunicorn.workers.sync": True}


def test_pythonpath_and_pth_files_and_editable_finders(tmp_path: Path) -> None:
    site = venv(tmp_path / "venv")
    extra = tmp_path / "vendored"
    gunicorn_tree(extra, "22.0.0")
    write(site / "vendored.pth", f"# comment\nimport this_is_never_run\n{extra}\n")
    write(tmp_path / "src" / "myworker" / "__init__.py", "import gunicorn\nimport greenlet\n")
    write(
        site / "__editable___myworker_0_1_finder.py",
        f"MAPPING: dict[str, str] = {{'myworker': '{tmp_path / 'src' / 'myworker'}'}}\n",
    )
    process = ProcessFacts(
        executable="/usr/bin/python3.11",
        argv=(str(tmp_path / "venv/bin/python"), "-m", "gunicorn"),
        environment={"PYTHONPATH": "relative/dir"},
        cwd=str(tmp_path),
    )
    result = scan(process, OsFiles(), ("myworker",))
    assert result.import_path[:2] == (str(tmp_path), str(tmp_path / "relative" / "dir"))
    assert result.gunicorn_version == "22.0.0"
    assert result.errors["myworker"] == "ModuleNotFoundError: No module named 'greenlet'"


def test_isolated_mode_ignores_pythonpath(tmp_path: Path) -> None:
    gunicorn_tree(tmp_path / "elsewhere")
    process = ProcessFacts(
        executable="/usr/bin/python3.11",
        argv=("/usr/bin/python3.11", "-I", "-m", "gunicorn"),
        environment={"PYTHONPATH": str(tmp_path / "elsewhere")},
        cwd=str(tmp_path),
    )
    result = scan(process, OsFiles())
    assert str(tmp_path / "elsewhere") not in result.import_path
    assert str(tmp_path) not in result.import_path  # -I: no sys.path[0] either


def test_a_fifo_where_metadata_should_be_does_not_block(tmp_path: Path) -> None:
    site = venv(tmp_path / "venv")
    gunicorn_tree(site, dist_info=False)
    (site / "gunicorn-27.0.1.dist-info").mkdir()
    os.mkfifo(site / "gunicorn-27.0.1.dist-info" / "METADATA")
    os.mkfifo(site / "blocking.pth")
    process = ProcessFacts(
        executable="/usr/bin/python3.11",
        argv=(str(tmp_path / "venv/bin/python"), "-m", "gunicorn"),
        environment={},
        cwd=str(tmp_path),
    )
    # The FIFO is skipped, the version comes from the package's source.
    assert scan(process, OsFiles()).gunicorn_version == "27.0.1"


def test_module_level_imports_required_and_optional() -> None:
    source = (
        "import a\n"
        "from .b import c\n"
        "try:\n    import d\nexcept ImportError:\n    d = None\n"
        "if TYPE_CHECKING:\n    import e\n"
        "def f():\n    import g\n"
        "if x:\n    import h\n"
    )
    found = dict(module_level_imports(source, "pkg.mod", is_package=False))
    assert found["a"] is True
    assert found["pkg.b"] is True
    assert found["pkg.b.c"] is False  # maybe a submodule, maybe a name
    assert found["d"] is False
    assert found["h"] is False
    assert "e" not in found and "g" not in found


def test_script_mode_runs_isolated_and_answers_in_json(tmp_path: Path) -> None:
    # The way it runs inside a container: -I -S, our source, a JSON request.
    site = venv(tmp_path / "venv")
    gunicorn_tree(site)
    request = {
        "modules": ["gunicorn.workers.ggevent"],
        "process": {
            "executable": "/usr/bin/python3.11",
            "argv": [str(tmp_path / "venv/bin/python"), "-m", "gunicorn"],
            "environment": {},
            "cwd": str(tmp_path),
        },
    }
    source = Path(scanner.__file__).read_text()
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", source, json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={},
        check=True,
    )
    line = completed.stdout.strip().splitlines()[-1]
    assert line.startswith("GTUI-SCAN ")
    result = ScanResult.from_json(json.loads(line[len("GTUI-SCAN ") :]))
    assert result.gunicorn_version == "27.0.1"
    assert result.modules == {"gunicorn.workers.ggevent": False}

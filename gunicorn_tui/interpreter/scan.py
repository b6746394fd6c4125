"""What a server's Python has installed, found by reading files, never by running it.

Answers the two questions a monitor and a retune ask of a Gunicorn server's
interpreter: which Gunicorn it runs, and whether a worker class's module (and
what that module imports) is installed. The answer comes from the same files
Python's import system would look at: the master's import path is rebuilt
from its executable, arguments, environment and working directory (venvs by
their ``pyvenv.cfg``, ``PYTHONPATH``, site and user site directories, ``.pth``
files, editable installs), plus the directories of the shared objects it has
mapped (``/proc/PID/maps``), which name the real site directories even when
setproctitle has hidden the command line. Versions come from
``*.dist-info/METADATA``; module presence from the package directories and
the module-level imports of the worker module, read with ``ast``.

This module is self-contained (standard library only) on purpose: besides
being imported, it is run as a script, ``python -I -S -c SOURCE ARGS``, in
the two places where reading must happen in another context: inside a
container whose daemon is not local (through ``docker exec``), and on the
host as the target's own uid when the master belongs to another user. No
code of the target is imported or executed in either case.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Files read here are small (METADATA, __init__.py, pyvenv.cfg, .pth).
MAX_FILE_BYTES = 2 * 1024 * 1024
# Modules followed when checking what a worker module imports.
MAX_MODULES_FOLLOWED = 80
SCHEMA = "gtui.interpreter-scan/1"

_EXTENSION_SUFFIX = re.compile(r"\.(cpython-\d+[^.]*|abi3)?\.?so$")
_VERSION_DIR = re.compile(r"^python(\d+)\.(\d+)$")
_NAME_NORMALIZE = re.compile(r"[-_.]+")
_SITE_DIR_IN_PATH = re.compile(r"^(.*?/(?:site|dist)-packages)(?:/|$)")
_PYTHON_IN_PATH = re.compile(r"/lib(?:64)?/python(\d+)\.(\d+)/")
_LIBPYTHON = re.compile(r"libpython(\d+)\.(\d+)")


class FileView(Protocol):
    """Read-only access to a filesystem as the target process sees it."""

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """A regular file's first ``limit`` bytes; None if absent or not a regular file."""

    def list_dir(self, path: str) -> list[str] | None:
        """Names in a directory; None if it is not a readable directory."""


class OsFiles:
    """The filesystem of the running process, read without blocking on odd files.

    Only regular files are read: a FIFO, device or socket placed where a
    METADATA file should be is skipped, never opened for reading in a way
    that could block.
    """

    def read_bytes(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks: list[bytes] = []
            left = limit
            while left > 0:
                chunk = os.read(fd, min(left, 65536))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(fd)

    def list_dir(self, path: str) -> list[str] | None:
        try:
            return os.listdir(path)
        except OSError:
            return None


@dataclass(frozen=True)
class ProcessFacts:
    """What /proc says about the interpreter process (paths as the process sees them)."""

    executable: str | None
    argv: tuple[str, ...] | None  # None when hidden (setproctitle)
    environment: Mapping[str, str] | None
    cwd: str | None
    mapped_files: tuple[str, ...] = ()
    home: str | None = None


@dataclass(frozen=True)
class ImportPath:
    """The master's import path as rebuilt from files, and how."""

    entries: tuple[str, ...]
    python_version: str | None
    prefix: str | None
    venv: str | None
    # What to run to get this same path (a venv's python, not the base
    # interpreter that /proc/PID/exe resolves to); None when unknown.
    interpreter: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModuleLocation:
    """Where a module was found: a package directory, a source file or an extension."""

    name: str
    path: str
    kind: str  # "package" | "source" | "extension" | "namespace" | "mapped"
    entry: str


@dataclass(frozen=True)
class ScanResult:
    """The answer: versions and module presence, each absent one with a reason."""

    python_version: str | None
    gunicorn_version: str | None
    gunicorn_path: str | None
    interpreter: str | None = None
    modules: Mapping[str, bool] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    import_path: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (the script mode's output)."""
        return {
            "schema": SCHEMA,
            "python": self.python_version,
            "gunicorn": self.gunicorn_version,
            "gunicorn_path": self.gunicorn_path,
            "interpreter": self.interpreter,
            "modules": dict(self.modules),
            "errors": dict(self.errors),
            "import_path": list(self.import_path),
            "notes": list(self.notes),
        }

    @staticmethod
    def from_json(data: Mapping[str, object]) -> ScanResult:
        """Read a script mode's output back; raises ValueError on another schema."""
        if data.get("schema") != SCHEMA:
            raise ValueError(f"scan output of another schema: {data.get('schema')!r}")

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        modules = data.get("modules")
        errors = data.get("errors")
        path = data.get("import_path")
        notes = data.get("notes")
        return ScanResult(
            python_version=text("python"),
            gunicorn_version=text("gunicorn"),
            gunicorn_path=text("gunicorn_path"),
            interpreter=text("interpreter"),
            modules={str(k): bool(v) for k, v in modules.items()}
            if isinstance(modules, dict)
            else {},
            errors={str(k): str(v) for k, v in errors.items()} if isinstance(errors, dict) else {},
            import_path=tuple(str(p) for p in path) if isinstance(path, list) else (),
            notes=tuple(str(n) for n in notes) if isinstance(notes, list) else (),
        )


# -- reading /proc (script mode, and callers that have nothing better) ---------


def read_process_facts(pid: int, proc: str = "/proc") -> ProcessFacts:
    """Read a process's executable, argv, environment, cwd and mapped files."""
    files = OsFiles()

    def readlink(name: str) -> str | None:
        try:
            return os.readlink(f"{proc}/{pid}/{name}").removesuffix(" (deleted)")
        except OSError:
            return None

    raw_argv = files.read_bytes(f"{proc}/{pid}/cmdline")
    raw_env = files.read_bytes(f"{proc}/{pid}/environ")
    raw_maps = files.read_bytes(f"{proc}/{pid}/maps", 8 * MAX_FILE_BYTES)
    return ProcessFacts(
        executable=readlink("exe"),
        argv=argv_from_cmdline(raw_argv) if raw_argv is not None else None,
        environment=environment_from_bytes(raw_env) if raw_env else None,
        cwd=readlink("cwd"),
        mapped_files=mapped_files_from_maps(raw_maps or b""),
    )


def argv_from_cmdline(raw: bytes) -> tuple[str, ...] | None:
    """argv from /proc/PID/cmdline; None when setproctitle has replaced it."""
    if b"\0" not in raw.rstrip(b"\0") and raw.startswith(b"gunicorn:"):
        return None
    words = raw.rstrip(b"\0").split(b"\0")
    argv = tuple(w.decode("utf-8", "surrogateescape") for w in words)
    if not argv or not argv[0] or argv[0].startswith("gunicorn:"):
        return None
    return argv


def environment_from_bytes(raw: bytes) -> dict[str, str]:
    """The environment from /proc/PID/environ (NUL-separated NAME=value)."""
    env: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep and key:
            env[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
    return env


def mapped_files_from_maps(raw: bytes) -> tuple[str, ...]:
    """Distinct file paths mapped into the process (shared objects, mostly)."""
    seen: dict[str, None] = {}
    for line in raw.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith(b"/"):
            path = parts[5].decode("utf-8", "surrogateescape").removesuffix(" (deleted)")
            seen.setdefault(path, None)
    return tuple(seen)


# -- the import path -------------------------------------------------------------


def _join(base: str, path: str) -> str:
    return os.path.normpath(path if path.startswith("/") else os.path.join(base, path))


def _interpreter_flags(argv: Sequence[str]) -> tuple[set[str], str | None, str | None]:
    """Single-letter flags before the script, and how the script is given.

    Returns (flags, mode, operand): mode "-m" with the module name, "-c", a
    script path, or None when the command has no script (a REPL, or unknown).
    """
    flags: set[str] = set()
    index = 1
    while index < len(argv):
        word = argv[index]
        if word == "-m" and index + 1 < len(argv):
            return flags, "-m", argv[index + 1]
        if word.startswith("-m") and len(word) > 2:
            return flags, "-m", word[2:]
        if word == "-c" or (word.startswith("-") and "c" in word[1:] and not word.startswith("--")):
            return flags, "-c", None
        if word in ("-W", "-X", "--check-hash-based-pycs"):
            index += 2
            continue
        if word.startswith("-") and not word.startswith("--") and len(word) > 1:
            flags.update(word[1:])
            index += 1
            continue
        if word.startswith("--"):
            index += 1
            continue
        return flags, "script", word
    return flags, None, None


def _looks_like_python(path: str) -> bool:
    name = os.path.basename(path)
    return re.match(r"^python[\d.]*$", name) is not None


def _which(name: str, env: Mapping[str, str], cwd: str, files: FileView) -> str | None:
    for directory in (env.get("PATH") or "/usr/local/bin:/usr/bin:/bin").split(":"):
        candidate = _join(cwd, os.path.join(directory or ".", name))
        if files.read_bytes(candidate, 0) is not None:
            return candidate
    return None


def _read_text(files: FileView, path: str) -> str | None:
    data = files.read_bytes(path)
    return None if data is None else data.decode("utf-8", "replace")


def _pyvenv_cfg(files: FileView, bin_dir: str) -> tuple[str, dict[str, str]] | None:
    for root in (os.path.dirname(bin_dir), bin_dir):
        text = _read_text(files, os.path.join(root, "pyvenv.cfg"))
        if text is None:
            continue
        values: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip().lower()] = value.strip()
        return root, values
    return None


def _version_from_paths(paths: Iterable[str]) -> tuple[int, int] | None:
    for path in paths:
        for pattern in (_PYTHON_IN_PATH, _LIBPYTHON):
            found = pattern.search(path)
            if found:
                return int(found.group(1)), int(found.group(2))
    return None


def _version_dirs(files: FileView, prefix: str) -> list[tuple[int, int]]:
    found = []
    for lib in ("lib", "lib64"):
        for name in files.list_dir(os.path.join(prefix, lib)) or []:
            match = _VERSION_DIR.match(name)
            if match:
                found.append((int(match.group(1)), int(match.group(2))))
    return sorted(set(found), reverse=True)


def _site_dirs_of_prefix(prefix: str, version: tuple[int, int], debian: bool) -> list[str]:
    short = f"python{version[0]}.{version[1]}"
    if debian:
        # Debian's site.py: /usr/local/.../dist-packages, then /usr/lib/python3/dist-packages.
        return [
            f"/usr/local/lib/{short}/dist-packages",
            f"/usr/lib/python{version[0]}/dist-packages",
            f"/usr/lib/{short}/dist-packages",
        ]
    return [os.path.join(prefix, lib, short, "site-packages") for lib in ("lib", "lib64")]


def _pth_entries(files: FileView, site_dir: str) -> list[str]:
    """Directories that the .pth files of a site directory add (no line is executed)."""
    added: list[str] = []
    for name in sorted(files.list_dir(site_dir) or []):
        if not name.endswith(".pth"):
            continue
        text = _read_text(files, os.path.join(site_dir, name)) or ""
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                continue
            path = _join(site_dir, line)
            if files.list_dir(path) is not None:
                added.append(path)
    return added


def _editable_mappings(files: FileView, site_dir: str) -> dict[str, str]:
    """Top-level names mapped by setuptools' editable finders (``MAPPING = {...}``)."""
    mapping: dict[str, str] = {}
    for name in files.list_dir(site_dir) or []:
        if not (name.startswith("__editable__") and name.endswith("_finder.py")):
            continue
        text = _read_text(files, os.path.join(site_dir, name)) or ""
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            if any(isinstance(t, ast.Name) and t.id == "MAPPING" for t in targets):
                try:
                    literal = ast.literal_eval(value)
                except ValueError:
                    continue
                if isinstance(literal, dict):
                    mapping.update({str(k): str(v) for k, v in literal.items()})
    return mapping


def _entries_of_mapped_extensions(files: FileView, mapped: Sequence[str]) -> list[str]:
    """Import path entries that loaded extension modules were found in.

    ``/opt/site/setproctitle/_setproctitle.cpython-311-x86_64-linux-gnu.so``
    lies in package ``setproctitle`` (its directory has ``__init__.py``), so
    ``/opt/site`` is on the path. Shared libraries that are not Python
    extensions (``libc.so.6``) and the standard library's own are skipped.
    """
    found: list[str] = []
    for path in mapped:
        name = os.path.basename(path)
        if not re.search(r"\.(cpython-\d+[^/]*|abi3)\.so$", name):
            continue
        directory = os.path.dirname(path)
        if directory.endswith("/lib-dynload"):
            continue
        for _ in range(8):
            names = files.list_dir(directory)
            if names is None or not any(n.startswith("__init__.") for n in names):
                break
            directory = os.path.dirname(directory)
        site = _SITE_DIR_IN_PATH.match(path)
        for candidate in (site.group(1) if site else None, directory):
            if candidate and candidate not in found:
                found.append(candidate)
    return found


def _interpreter_to_run(
    files: FileView, invoked: str | None, venv: str | None, executable: str | None
) -> str | None:
    if invoked is not None:
        return invoked
    if venv is not None:
        for name in ("python3", "python"):
            candidate = os.path.join(venv, "bin", name)
            if files.read_bytes(candidate, 0) is not None:
                return candidate
    return executable


def import_path(process: ProcessFacts, files: FileView) -> tuple[ImportPath, dict[str, str]]:
    """Rebuild ``sys.path`` of the process, and its editable top-level mappings.

    Follows CPython's rules on Linux (``getpath`` and ``site``) for the cases
    that matter here; every guess that could not be checked is a note.
    """
    notes: list[str] = []
    env = dict(process.environment or {})
    cwd = process.cwd or "/"
    argv = process.argv
    flags, mode, operand = _interpreter_flags(argv) if argv else (set(), None, None)
    isolated = "I" in flags
    ignore_env = isolated or "E" in flags
    no_user_site = (
        isolated or "s" in flags or (not ignore_env and bool(env.get("PYTHONNOUSERSITE")))
    )

    # The interpreter as invoked: argv[0] for `python ...` and for console
    # scripts (the kernel puts the shebang's interpreter in argv[0]).
    invoked: str | None = None
    if argv and _looks_like_python(argv[0]):
        invoked = argv[0] if "/" in argv[0] else _which(argv[0], env, cwd, files)
        if invoked is not None:
            invoked = _join(cwd, invoked)
    executable = process.executable
    mapped = process.mapped_files

    mapped_entries = _entries_of_mapped_extensions(files, mapped)
    venv: str | None = None
    venv_cfg: dict[str, str] = {}
    # A venv is found from the interpreter as invoked, else from a loaded
    # extension's site-packages (VENV/lib/pythonX.Y/site-packages): with the
    # command line hidden, that is the only trace of it.
    bin_dirs = [os.path.dirname(c) for c in (invoked, executable) if c]
    for entry in mapped_entries:
        shape = re.match(r"^(.*)/lib(?:64)?/python\d+\.\d+/site-packages$", entry)
        if shape:
            bin_dirs.append(os.path.join(shape.group(1), "bin"))
    for bin_dir in bin_dirs:
        found = _pyvenv_cfg(files, bin_dir)
        if found is not None:
            venv, venv_cfg = found
            break

    base_executable = venv_cfg.get("executable") or executable
    base_prefix: str | None = None
    if venv_cfg.get("home"):
        base_prefix = os.path.dirname(venv_cfg["home"].rstrip("/"))
    elif base_executable:
        base_prefix = os.path.dirname(os.path.dirname(base_executable))

    version = _version_from_paths([*(p for p in (executable, base_executable) if p), *mapped])
    if version is None and executable:
        match = re.search(r"python(\d+)\.(\d+)$", executable)
        if match:
            version = (int(match.group(1)), int(match.group(2)))
    if version is None and base_prefix:
        candidates = _version_dirs(files, base_prefix)
        if candidates:
            version = candidates[0]
            if len(candidates) > 1:
                notes.append(
                    f"several Pythons under {base_prefix}; assumed {version[0]}.{version[1]}"
                )
    if venv_cfg.get("version") and version is None:
        parts = venv_cfg["version"].split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            version = (int(parts[0]), int(parts[1]))

    entries: list[str] = []

    def add(path: str) -> None:
        normal = os.path.normpath(path)
        if normal not in entries:
            entries.append(normal)

    # sys.path[0]
    if mode == "-m" or mode == "-c":
        if not isolated and "P" not in flags:
            add(cwd)
    elif mode == "script" and operand is not None:
        if not isolated and "P" not in flags:
            add(os.path.dirname(_join(cwd, operand)))
    elif argv is None:
        # Command line hidden: `gunicorn` (a console script) puts its own bin
        # directory first, `python -m gunicorn` the working directory. The
        # working directory is the likelier source of the app and costs
        # nothing when it holds no package of interest.
        add(cwd)
        notes.append("command line hidden: working directory assumed first on the path")
    if not ignore_env and env.get("PYTHONPATH"):
        for part in env["PYTHONPATH"].split(":"):
            if part:
                add(_join(cwd, part))

    debian = (
        base_prefix == "/usr"
        and base_executable is not None
        and base_executable.startswith("/usr/bin/")
    )
    site_dirs: list[str] = []
    if version is not None and base_prefix is not None:
        short = f"python{version[0]}.{version[1]}"
        add(os.path.join(base_prefix, "lib", short))
        add(os.path.join(base_prefix, "lib", short, "lib-dynload"))
        if venv is not None:
            site_dirs += [
                os.path.join(venv, lib, short, "site-packages") for lib in ("lib", "lib64")
            ]
            if venv_cfg.get("include-system-site-packages", "false").lower() == "true":
                site_dirs += _site_dirs_of_prefix(base_prefix, version, debian)
        else:
            if not no_user_site:
                home = (None if ignore_env else env.get("PYTHONUSERBASE")) or (
                    os.path.join(process.home or env.get("HOME") or "", ".local")
                )
                if home and home != ".local":
                    site_dirs.append(os.path.join(home, "lib", short, "site-packages"))
            site_dirs += _site_dirs_of_prefix(base_prefix, version, debian)
    elif version is None:
        notes.append("the Python version could not be told from the interpreter's files")

    # Extension modules the process has loaded (setproctitle's, gevent's,
    # the app's) sit in directories that are on its path for sure, even when
    # setproctitle has hidden the environment that put them there.
    for entry in mapped_entries:
        if entry not in site_dirs and entry not in entries:
            site_dirs.append(entry)

    editable: dict[str, str] = {}
    for site_dir in site_dirs:
        if files.list_dir(site_dir) is None:
            continue
        add(site_dir)
        for extra in _pth_entries(files, site_dir):
            add(extra)
        editable.update(_editable_mappings(files, site_dir))

    return (
        ImportPath(
            entries=tuple(entries),
            python_version=f"{version[0]}.{version[1]}" if version else None,
            prefix=base_prefix,
            venv=venv,
            interpreter=_interpreter_to_run(files, invoked, venv, executable),
            notes=tuple(notes),
        ),
        editable,
    )


# -- finding modules and distributions ------------------------------------------


class ModuleFinder:
    """Find modules on an import path the way Python's path finder would."""

    def __init__(self, files: FileView, path: Sequence[str], editable: Mapping[str, str]):
        self.files = files
        self.path = tuple(path)
        self.editable = dict(editable)
        self._listings: dict[str, list[str] | None] = {}

    def listing(self, directory: str) -> list[str] | None:
        if directory not in self._listings:
            self._listings[directory] = self.files.list_dir(directory)
        return self._listings[directory]

    def _in_directory(self, directory: str, name: str) -> tuple[str, str] | None:
        names = self.listing(directory)
        if names is None:
            return None
        if name in names:
            package = os.path.join(directory, name)
            package_names = self.listing(package)
            if package_names is not None:
                if "__init__.py" in package_names:
                    return os.path.join(package, "__init__.py"), "package"
                if any(n.startswith("__init__.") for n in package_names):
                    return package, "package"
        if f"{name}.py" in names:
            return os.path.join(directory, f"{name}.py"), "source"
        for entry in names:
            if entry.startswith(name + ".") and _EXTENSION_SUFFIX.search(entry[len(name) :]):
                return os.path.join(directory, entry), "extension"
        if f"{name}.pyc" in names:
            return os.path.join(directory, f"{name}.pyc"), "extension"
        return None

    def find(self, dotted: str) -> ModuleLocation | None:
        """Locate ``dotted`` (each parent package first); None when not installed."""
        parts = dotted.split(".")
        top = parts[0]
        search: list[str] = []
        location: ModuleLocation | None = None
        namespace: list[str] = []
        for entry in self.path:
            hit = self._in_directory(entry, top)
            if hit is not None:
                path, kind = hit
                location = ModuleLocation(top, path, kind, entry)
                break
            candidate = os.path.join(entry, top)
            if top in (self.listing(entry) or []) and self.listing(candidate) is not None:
                namespace.append(candidate)
        if location is None and top in self.editable:
            target = self.editable[top]
            if self.listing(target) is not None:
                init = os.path.join(target, "__init__.py")
                location = ModuleLocation(top, init, "package", os.path.dirname(target))
            elif self.files.read_bytes(target, 0) is not None:
                location = ModuleLocation(top, target, "source", os.path.dirname(target))
        if location is None and namespace:
            location = ModuleLocation(top, namespace[0], "namespace", os.path.dirname(namespace[0]))
            search = namespace
        if location is None:
            return None
        for index in range(1, len(parts)):
            if location.kind == "package":
                search = [os.path.dirname(location.path)]
            elif location.kind != "namespace":
                return None  # a module, not a package: it has no submodules
            name = parts[index]
            dotted_so_far = ".".join(parts[: index + 1])
            found: ModuleLocation | None = None
            deeper: list[str] = []
            for directory in search:
                hit = self._in_directory(directory, name)
                if hit is not None:
                    found = ModuleLocation(dotted_so_far, hit[0], hit[1], location.entry)
                    break
                if self.listing(os.path.join(directory, name)) is not None:
                    deeper.append(os.path.join(directory, name))
            if found is None and deeper:
                found = ModuleLocation(dotted_so_far, deeper[0], "namespace", location.entry)
                search = deeper
            if found is None:
                return None
            location = found
        return location

    def distribution_version(self, name: str, prefer_entry: str | None = None) -> str | None:
        """Version of an installed distribution from its dist-info or egg-info."""
        wanted = _NAME_NORMALIZE.sub("_", name).lower()
        entries = [prefer_entry] if prefer_entry else []
        entries += [e for e in self.path if e != prefer_entry]
        for entry in entries:
            for item in self.listing(entry) or []:
                if not item.endswith((".dist-info", ".egg-info")):
                    continue
                stem = item.rsplit(".", 1)[0]
                dist_name = stem.split("-", 1)[0]
                if _NAME_NORMALIZE.sub("_", dist_name).lower() != wanted:
                    continue
                for meta in ("METADATA", "PKG-INFO"):
                    text = _read_text(self.files, os.path.join(entry, item, meta))
                    if text is None and item.endswith(".egg-info"):
                        text = _read_text(self.files, os.path.join(entry, item))
                    version = _metadata_version(text or "")
                    if version:
                        return version
        return None


def _metadata_version(text: str) -> str | None:
    for line in text.splitlines():
        if not line.strip():
            break  # the body starts: no Version header
        if line.lower().startswith("version:"):
            return line.split(":", 1)[1].strip() or None
    return None


def gunicorn_version_from_source(text: str) -> str | None:
    """``version_info = (27, 0, 1)`` (or ``__version__ = "..."``) in gunicorn/__init__.py."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if not isinstance(target, ast.Name):
                continue
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if target.id == "version_info" and isinstance(value, tuple):
                return ".".join(str(part) for part in value)
            if target.id == "__version__" and isinstance(value, str):
                return value
    return None


# -- what a module imports -------------------------------------------------------

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _handler_tolerates_import_error(handler: ast.ExceptHandler) -> bool:
    caught: list[ast.expr] = []
    if handler.type is None:
        caught = []
        tolerant_type = True
    else:
        caught = list(handler.type.elts) if isinstance(handler.type, ast.Tuple) else [handler.type]
        tolerant_type = any(
            (isinstance(c, ast.Name) and c.id in _IMPORT_ERRORS)
            or (isinstance(c, ast.Attribute) and c.attr in _IMPORT_ERRORS)
            for c in caught
        )
    if not tolerant_type:
        return False
    # A handler that raises turns the missing module into a failure anyway.
    return not any(isinstance(statement, ast.Raise) for statement in handler.body)


def module_level_imports(source: str, module: str, is_package: bool) -> list[tuple[str, bool]]:
    """(absolute module name, required) for each import run when the module loads.

    Imports inside functions and classes are not run at import time; imports
    under ``if`` are counted as optional (the condition is not evaluated);
    a ``try`` whose handler swallows ImportError makes its imports optional.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def resolve(level: int, name: str | None) -> str | None:
        if level == 0:
            return name
        base = package.split(".") if package else []
        if level - 1 > len(base):
            return None
        base = base[: len(base) - (level - 1)]
        return ".".join([*base, name] if name else base) or None

    def visit(statements: Sequence[ast.stmt], required: bool) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append((alias.name, required))
            elif isinstance(node, ast.ImportFrom):
                base = resolve(node.level, node.module)
                if base is None:
                    continue
                found.append((base, required))
                for alias in node.names:
                    if alias.name != "*":
                        # Maybe a submodule; the caller checks it only if it exists.
                        found.append((f"{base}.{alias.name}", False))
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                body = getattr(node, "body", [])
                handlers = getattr(node, "handlers", [])
                tolerant = any(_handler_tolerates_import_error(h) for h in handlers)
                visit(body, required and not tolerant)
                visit(getattr(node, "orelse", []), required and not tolerant)
                for handler in handlers:
                    visit(handler.body, False)
                visit(getattr(node, "finalbody", []), required)
            elif isinstance(node, ast.If):
                if _is_type_checking(node.test):
                    continue
                visit(node.body, False)
                visit(node.orelse, False)
            elif isinstance(node, ast.With):
                visit(node.body, required)

    visit(tree.body, True)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


def check_module(finder: ModuleFinder, module: str) -> str | None:
    """None when ``module`` and what it needs at import time are installed, else why not.

    Follows module-level imports inside the module's own top-level package
    and Gunicorn's; other packages are checked for presence only (their own
    dependencies were installed with them).
    """
    follow_tops = {module.split(".")[0], "gunicorn"}
    queue: list[str] = []
    parts = module.split(".")
    queue += [".".join(parts[: i + 1]) for i in range(len(parts))]
    seen: set[str] = set()
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if len(seen) > MAX_MODULES_FOLLOWED:
            break
        top = name.split(".")[0]
        if top in _STDLIB and top not in follow_tops:
            continue
        location = finder.find(name)
        if location is None:
            return f"ModuleNotFoundError: No module named {name!r}"
        if top not in follow_tops or location.kind not in ("package", "source"):
            continue
        source = _read_text(finder.files, location.path)
        if source is None:
            continue
        for imported, required in module_level_imports(source, name, location.kind == "package"):
            imported_top = imported.split(".")[0]
            if imported_top in _STDLIB and imported_top not in follow_tops:
                continue
            if required:
                # Parents first: importing a.b imports a.
                pieces = imported.split(".")
                for i in range(len(pieces)):
                    parent = ".".join(pieces[: i + 1])
                    if imported_top not in follow_tops and i > 0:
                        break
                    if parent not in seen:
                        queue.append(parent)
            elif imported_top in follow_tops and finder.find(imported) is not None:
                queue.append(imported)
    return None


# -- the whole scan --------------------------------------------------------------


def scan(process: ProcessFacts, files: FileView, modules: Sequence[str] = ()) -> ScanResult:
    """Gunicorn's version and each module's presence for one interpreter process."""
    path, editable = import_path(process, files)
    finder = ModuleFinder(files, path.entries, editable)
    notes = list(path.notes)
    gunicorn = finder.find("gunicorn")
    version: str | None = None
    gunicorn_path: str | None = None
    errors: dict[str, str] = {}
    if gunicorn is None:
        errors["gunicorn"] = "gunicorn is not on the rebuilt import path"
    else:
        gunicorn_path = gunicorn.path
        version = finder.distribution_version("gunicorn", gunicorn.entry)
        if version is None and gunicorn.kind == "package":
            version = gunicorn_version_from_source(_read_text(files, gunicorn.path) or "")
    found: dict[str, bool] = {}
    for name in modules:
        problem = check_module(finder, name)
        found[name] = problem is None
        if problem is not None:
            errors[name] = problem
    return ScanResult(
        python_version=path.python_version,
        gunicorn_version=version,
        gunicorn_path=gunicorn_path,
        interpreter=path.interpreter,
        modules=found,
        errors=errors,
        import_path=path.entries,
        notes=tuple(notes),
    )


def main(arguments: Sequence[str]) -> int:
    """Script mode: ``ARGS`` is JSON ``{"pid": N, "modules": [...], "process": {...}}``.

    With ``process`` absent, the facts are read from ``/proc/PID`` as this
    process sees it (inside the container, or as the target's uid).
    """
    request = json.loads(arguments[0]) if arguments else {}
    given = request.get("process")
    if isinstance(given, dict):
        process = ProcessFacts(
            executable=given.get("executable"),
            argv=tuple(given["argv"]) if isinstance(given.get("argv"), list) else None,
            environment=given.get("environment"),
            cwd=given.get("cwd"),
            mapped_files=tuple(given.get("mapped_files") or ()),
            home=given.get("home"),
        )
    else:
        process = read_process_facts(int(request["pid"]))
    result = scan(process, OsFiles(), [str(m) for m in request.get("modules") or ()])
    sys.stdout.write("GTUI-SCAN " + json.dumps(result.to_json()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

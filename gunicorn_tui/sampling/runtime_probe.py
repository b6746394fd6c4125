"""Ask a server's own Python what it has: Gunicorn's version, importable modules.

Nothing on /proc says which Gunicorn a master runs, and the only truthful
answer to "can this image run gevent workers" is to try the import with the
image's interpreter and environment. The probe runs that interpreter once
(``docker exec`` in a container, a subprocess on the host), off the sampling
path, and its answer is cached by the caller.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROBE_TIMEOUT_S = 20.0

_SCRIPT = r"""
import importlib, json, sys
out = {"python": sys.version.split()[0], "gunicorn": None, "modules": {}, "errors": {}}
try:
    import gunicorn
    out["gunicorn"] = getattr(gunicorn, "__version__", None) or ".".join(
        str(p) for p in gunicorn.version_info)
except Exception as e:
    out["errors"]["gunicorn"] = "%s: %s" % (type(e).__name__, e)
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
        out["modules"][name] = True
    except BaseException as e:
        out["modules"][name] = False
        out["errors"][name] = "%s: %s" % (type(e).__name__, e)
print("GTUI-PROBE " + json.dumps(out))
"""


class ProbeFailed(Exception):
    """The interpreter could not be run or did not answer."""


@dataclass(frozen=True)
class RuntimeFacts:
    """What the server's interpreter reported."""

    python_version: str | None
    gunicorn_version: str | None
    modules: Mapping[str, bool] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


def _parse(output: str) -> RuntimeFacts:
    for line in reversed(output.splitlines()):
        if line.startswith("GTUI-PROBE "):
            try:
                data: dict[str, Any] = json.loads(line[len("GTUI-PROBE ") :])
            except json.JSONDecodeError as error:
                raise ProbeFailed(f"probe output not understood: {error}") from error
            return RuntimeFacts(
                python_version=data.get("python"),
                gunicorn_version=data.get("gunicorn"),
                modules=dict(data.get("modules") or {}),
                errors=dict(data.get("errors") or {}),
            )
    raise ProbeFailed(output.strip().splitlines()[-1][:200] if output.strip() else "no output")


def probe_local(
    interpreter: str,
    environment: Mapping[str, str] | None,
    cwd: str | None,
    modules: Sequence[str] = (),
) -> RuntimeFacts:
    """Run the probe with a host interpreter, environment and directory."""
    try:
        completed = subprocess.run(
            [interpreter, "-c", _SCRIPT, json.dumps(list(modules))],
            env=dict(environment) if environment is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise ProbeFailed(f"cannot run {interpreter}: {error}") from error
    return _parse(completed.stdout + completed.stderr)


def probe_container(
    container: Any,
    interpreters: Sequence[str],
    cwd: str | None,
    modules: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
) -> RuntimeFacts:
    """Run the probe inside a container with the first interpreter that exists."""
    last_error = "no interpreter given"
    for interpreter in interpreters:
        try:
            result = container.exec_run(
                [interpreter, "-c", _SCRIPT, json.dumps(list(modules))],
                workdir=cwd or None,
                environment=dict(environment) if environment else None,
            )
        except Exception as error:  # docker.errors.* and transport errors
            raise ProbeFailed(f"docker exec failed: {error}") from error
        output = result.output.decode("utf-8", "replace") if result.output else ""
        try:
            return _parse(output)
        except ProbeFailed as error:
            last_error = f"{interpreter}: {error}"
    raise ProbeFailed(last_error)

"""The ways an action reaches a master: signals, control socket, files, a config check.

Each function runs one plan step's action and raises :class:`StepError`
with a one-line reason when it fails. Docker API errors are translated so
that "container gone" and "daemon unreachable" read as such.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal as signals
import subprocess
import tarfile
import time
from collections.abc import Callable
from typing import Any

from gunicorn_tui.control.plan import (
    CheckConfig,
    ControlCommand,
    SendSignal,
    SignalRoute,
    WriteFile,
)
from gunicorn_tui.sampling.control_socket import (
    ControlReply,
    ControlSocketError,
    DockerExecTransport,
    UnixSocketTransport,
)

CHECK_CONFIG_TIMEOUT_S = 60.0
SIGNAL_EFFECT_TIMEOUT_S = 5.0


class StepError(Exception):
    """A step failed; the message is one line for the operator."""


class DaemonLost(StepError):
    """The Docker daemon stopped answering."""


class ContainerGone(StepError):
    """A container the step acts on no longer exists."""


def docker_error(error: BaseException, what: str) -> StepError:
    """A StepError saying what went wrong with a Docker call, in one line."""
    import docker.errors
    import requests

    if isinstance(error, docker.errors.NotFound):
        return ContainerGone(f"{what}: no longer exists")
    if isinstance(error, requests.exceptions.ConnectionError | ConnectionError | TimeoutError):
        return DaemonLost(f"{what}: Docker daemon unreachable ({_line(error)})")
    if isinstance(error, requests.exceptions.RequestException):
        return DaemonLost(f"{what}: Docker daemon unreachable ({_line(error)})")
    if isinstance(error, docker.errors.APIError):
        explanation = getattr(error, "explanation", None) or str(error)
        return StepError(f"{what}: {_line(explanation)}")
    return StepError(f"{what}: {_line(error)}")


def _line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else type(value).__name__


def _container(client: Any, container_id: str) -> Any:
    try:
        return client.containers.get(container_id)
    except Exception as error:
        raise docker_error(error, f"container {container_id[:12]}") from error


# -- signals ---------------------------------------------------------------------------


def send_signal(
    action: SendSignal,
    client: Any,
    worker_count: Callable[[], int | None] | None = None,
) -> str:
    """Send the signal ``action.count`` times; between two, wait for the
    previous one to take effect (standard signals do not queue)."""
    number = getattr(signals, f"SIG{action.signal_name}")
    for index in range(action.count):
        _send_once(action, number, client)
        wanted = action.worker_counts[index] if index < len(action.worker_counts) else None
        if action.count > 1 and wanted is not None and worker_count is not None:
            deadline = time.monotonic() + SIGNAL_EFFECT_TIMEOUT_S
            while time.monotonic() < deadline and worker_count() != wanted:
                time.sleep(0.02)
    return f"SIG{action.signal_name} sent {action.count} time(s)"


def _send_once(action: SendSignal, number: int, client: Any) -> None:
    if action.route is SignalRoute.HOST:
        assert action.host_pid is not None
        try:
            os.kill(action.host_pid, number)
        except ProcessLookupError as error:
            raise StepError(f"process {action.host_pid} is gone") from error
        except PermissionError as error:
            raise StepError(f"not allowed to signal {action.host_pid}: {error}") from error
        return
    assert action.container_id is not None
    container = _container(client, action.container_id)
    if action.route is SignalRoute.DOCKER_KILL:
        try:
            container.kill(signal=f"SIG{action.signal_name}")
        except Exception as error:
            raise docker_error(error, "docker kill") from error
        return
    try:
        result = container.exec_run(["kill", f"-{action.signal_name}", str(action.ns_pid)])
    except Exception as error:
        raise docker_error(error, "docker exec kill") from error
    if result.exit_code != 0:
        output = result.output.decode("utf-8", "replace") if result.output else ""
        raise StepError(f"kill in the container failed: {_line(output)}")


# -- control socket ----------------------------------------------------------------------


def control_request(action: ControlCommand, client: Any) -> ControlReply:
    """Run one control-socket command; StepError unless it answered ok."""
    try:
        if action.host_path is not None:
            (reply,) = UnixSocketTransport(action.host_path, timeout_s=5.0).request(
                [action.command]
            )
        else:
            assert action.container_id is not None
            container = _container(client, action.container_id)
            (reply,) = DockerExecTransport(container, action.socket_path).request([action.command])
    except ControlSocketError as error:
        raise StepError(f"control socket: {error}") from error
    except ValueError as error:
        raise StepError(f"control socket: no reply to {action.command!r}") from error
    if not reply.ok:
        raise StepError(f"control socket refused {action.command!r}: {reply.error}")
    if reply.data.get("success") is False:
        raise StepError(f"control socket: {reply.data.get('error', 'failed')}")
    return reply


def show_config(
    socket_path: str, host_path: str | None, container_id: str | None, client: Any
) -> dict[str, Any] | None:
    """``show config`` from a control socket, or None when it cannot be read."""
    try:
        reply = control_request(
            ControlCommand("show config", socket_path, host_path, container_id), client
        )
    except StepError:
        return None
    return dict(reply.data)


# -- files ---------------------------------------------------------------------------------


def write_file(action: WriteFile, client: Any) -> str:
    """Write or remove a file in the master's filesystem, atomically when local."""
    if action.host_path is not None:
        return _write_host_file(action, action.host_path)
    assert action.container_id is not None
    container = _container(client, action.container_id)
    if action.content is None:
        try:
            result = container.exec_run(["rm", "-f", action.path])
        except Exception as error:
            raise docker_error(error, "docker exec rm") from error
        if result.exit_code != 0:
            raise StepError(f"could not remove {action.path} in the container")
        return f"removed {action.path}"
    data = action.content.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(os.path.basename(action.path))
        info.size, info.mode, info.mtime = len(data), action.mode, int(time.time())
        info.uid, info.gid = action.uid or 0, action.gid or 0
        archive.addfile(info, io.BytesIO(data))
    try:
        ok = container.put_archive(os.path.dirname(action.path) or "/", buffer.getvalue())
    except Exception as error:
        raise docker_error(error, f"write {action.path}") from error
    if not ok:
        raise StepError(f"could not write {action.path} in the container")
    return f"wrote {action.path} ({len(data)} bytes)"


def _write_host_file(action: WriteFile, path: str) -> str:
    if action.content is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return f"{action.path} was already absent"
        except OSError as error:
            raise StepError(f"could not remove {action.path}: {error}") from error
        return f"removed {action.path}"
    directory = os.path.dirname(path)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.gtui-{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(action.content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, action.mode)
        if action.uid is not None and action.gid is not None:
            os.chown(temporary, action.uid, action.gid)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise StepError(f"could not write {action.path}: {error}") from error
    return f"wrote {action.path} ({len(action.content.encode())} bytes)"


# -- gunicorn --check-config -----------------------------------------------------------------


def check_config(action: CheckConfig, client: Any) -> str:
    """Run ``gunicorn --check-config``; StepError with its output when it fails."""
    if action.container_id is not None:
        container = _container(client, action.container_id)
        try:
            result = container.exec_run(
                list(action.argv),
                workdir=action.workdir or None,
                environment=dict(action.environment) if action.environment else None,
                user=action.user or "",
            )
        except Exception as error:
            raise docker_error(error, "docker exec gunicorn --check-config") from error
        code = result.exit_code
        output = result.output.decode("utf-8", "replace") if result.output else ""
    else:
        uid, gid = _user_ids(action.user)
        try:
            completed = subprocess.run(
                list(action.argv),
                cwd=action.workdir or None,
                env=dict(action.environment) if action.environment is not None else None,
                user=uid,
                group=gid,
                # Never the supplementary groups of gtui's user (root's).
                extra_groups=[] if uid is not None else None,
                capture_output=True,
                text=True,
                timeout=CHECK_CONFIG_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as error:
            raise StepError(f"could not run gunicorn --check-config: {error}") from error
        code, output = completed.returncode, completed.stdout + completed.stderr
    if code != 0:
        lines = [line for line in output.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {code}"
        raise StepError(f"gunicorn --check-config failed: {reason[:300]}")
    return "configuration checked: OK"


def _user_ids(user: str | None) -> tuple[int | None, int | None]:
    """``uid:gid`` to ids, only when they differ from ours (dropping privileges)."""
    if not user or ":" not in user:
        return None, None
    uid_text, _, gid_text = user.partition(":")
    try:
        uid, gid = int(uid_text), int(gid_text)
    except ValueError:
        return None, None
    if uid == os.getuid() and gid == os.getgid():
        return None, None
    return uid, gid

"""``gtui recover -H ssh://HOST``: the interrupted actions that HOST's gtui journaled.

An action on a master outside containers on an ``ssh://`` host is run by
the gtui there (control/remote_host.py), so its journal is on that host.
For each ``ssh://`` engine given, ``gtui recover`` asks the gtui there for
its interrupted actions and, when there are some, runs its ``gtui recover``
over the same SSH connection; without a gtui there it says the command to
run on the host. The remote output is bounded and escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gunicorn_tui.access.engine_connect import EngineConnector
from gunicorn_tui.control.remote_host import RemoteGtui, RemoteRefused

RECOVER_TIMEOUT_S = 900.0
LIST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RemoteRecovery:
    """What recovery on one host said: lines to print, and whether it failed."""

    host: str
    lines: tuple[str, ...]
    failed: bool
    settled_any: bool


def recover_remote_hosts(
    connectors: Sequence[EngineConnector], command: Sequence[str], read_only: bool
) -> list[RemoteRecovery]:
    """Run the remote gtui's recover on every ``ssh://`` engine that has
    interrupted actions; a host without gtui gets the command to run there."""
    results = []
    for connector in connectors:
        session = connector.ssh_session
        if session is None:
            continue
        host = connector.endpoint.name
        remote = RemoteGtui(host, session, command)
        results.append(_recover_on(remote, read_only))
    return results


def _recover_on(remote: RemoteGtui, read_only: bool) -> RemoteRecovery:
    host = remote.host
    there = f"run `gtui recover` on {host}"
    try:
        listed = remote.run(["recover", "--json"], LIST_TIMEOUT_S)
    except RemoteRefused as error:
        line = (
            f"{host}: {error}; actions on its masters outside containers are journaled "
            f"there: {there} to settle an interrupted one"
        )
        return RemoteRecovery(host, (line,), failed=False, settled_any=False)
    pending = (listed.document or {}).get("pending")
    if listed.exit_code != 0 or not isinstance(pending, list):
        line = f"{host}: the gtui there could not list its actions ({listed.error_line}): {there}"
        return RemoteRecovery(host, (line,), failed=True, settled_any=False)
    if not pending:
        return RemoteRecovery(host, (), failed=False, settled_any=False)
    words = ["recover", *(["--read-only"] if read_only else [])]
    try:
        ran = remote.run(words, RECOVER_TIMEOUT_S, json_answer=False)
    except RemoteRefused as error:
        return RemoteRecovery(host, (f"{host}: {error}: {there}",), failed=True, settled_any=False)
    lines = tuple(f"{host}: {line}" for line in ran.text.splitlines() if line.strip())
    if ran.exit_code != 0 and ran.error_line:
        lines += (f"{host}: {ran.error_line}",)
    return RemoteRecovery(host, lines, failed=ran.exit_code != 0, settled_any=True)

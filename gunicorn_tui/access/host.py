"""A Gunicorn master on this host, outside any container.

Its files are the host's, so gtui acts on them with the master's own file
identity (``setfsuid``): a master owned by ``nobody`` whose app directory
is a symlink to ``/etc`` gets nothing written there, because ``nobody``
could not write there. Commands (``--check-config``, a restart) run as the
master's uid and gid with exactly its environment; see :mod:`host_commands`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from gunicorn_tui.access.errors import TargetGone
from gunicorn_tui.access.host_commands import (
    CommandResult,
    RunAs,
    run_as_master,
    start_as_master,
)
from gunicorn_tui.access.kinds import AccessKind
from gunicorn_tui.access.proc_target import ProcTarget
from gunicorn_tui.access.processes import process_ref, send_signal, wait_gone
from gunicorn_tui.host.fs_identity import as_file_user

T = TypeVar("T")


class HostMaster(ProcTarget):
    """A host master: /proc, pidfds, its files with its identity, commands as its user."""

    kind = AccessKind.HOST
    container_id = None
    engine = None

    def describe(self) -> str:
        return f"host master {self.master.pid}"

    def _as_owner(self, work: Callable[[], T]) -> T:
        owner = self.owner_ids()
        if owner is None:
            raise TargetGone(f"process {self.master.pid} is gone")
        return as_file_user(owner[0], owner[1], work)

    def _write_owner(self) -> tuple[int, int] | None:
        return None  # created with the master's file identity already

    def run_command(
        self,
        argv: Sequence[str],
        *,
        environment: Mapping[str, str],
        cwd: str | None,
        run_as: RunAs | None,
    ) -> CommandResult:
        identity = self._check_run_as(run_as)
        return run_as_master(argv, environment=environment, cwd=cwd or "/", run_as=identity)

    def stop(self, timeout_s: float) -> str:
        """TERM the master and wait for it to exit."""
        import signal

        try:
            send_signal(self.master, signal.SIGTERM)
        except TargetGone:
            return f"master {self.master.pid} had already exited"
        if wait_gone(self.master, timeout_s):
            return f"master {self.master.pid} exited"
        from gunicorn_tui.access.errors import AccessError

        raise AccessError(f"master {self.master.pid} did not exit within {timeout_s:.0f} s of TERM")


def start_host_master(
    argv: Sequence[str],
    environment: Mapping[str, str],
    cwd: str,
    run_as: RunAs,
    log_path: Path,
) -> HostMaster:
    """Start a host master as ``run_as`` (detached); access to it."""
    pid = start_as_master(argv, environment=environment, cwd=cwd, run_as=run_as, log_path=log_path)
    return HostMaster(process_ref(pid))

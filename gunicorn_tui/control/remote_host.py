"""Actions on a master outside containers on another host, by the gtui there.

Through a Docker engine's API, gtui can act only on containers. A Gunicorn
master running directly on an ``ssh://`` host is acted on by the gtui
installed there (the one whose ``gtui agent`` streams that host's figures),
over the same SSH connection:

1. the plan: ``gtui ACTION pid:N ... --dry-run --json`` there; the full plan
   comes back (decoded into a :class:`RetunePlan`, shown and confirmed here
   as any local plan) with a digest of what it does and the master's pid and
   start time;
2. the run: the same command with ``--yes --expect-plan DIGEST
   --expect-master PID:TICKS``; the remote gtui plans again under its lock
   and refuses unless it is the same plan for the same process (a recycled
   pid, another worker count, a changed config: "plan again").

The journal, lock and audit of the action are the remote gtui's, on that
host (where the process is, and where ``gtui recover`` settles it); this
side appends an audit line naming the host and the remote journal.

Everything crossing the link is checked: argv is a list, each word quoted
for the remote shell (ssh sends one command line); the answer is JSON of
bounded size, its text escaped before it is shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import select
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gunicorn_tui.access.ssh_transport import SshFailed, SshSession, stop_child
from gunicorn_tui.control.durability.journal import OutcomeStatus
from gunicorn_tui.control.durability.plan_codec import PlanDecodeError, decode_plan, encode
from gunicorn_tui.control.planning.plan import RetunePlan
from gunicorn_tui.control.planning.requests import (
    CONSENT_FLAGS,
    Consent,
    RetuneRequest,
    ScaleRequest,
)
from gunicorn_tui.control.running.interrupt import Interrupt
from gunicorn_tui.control.running.progress import ActionOutcome, ServiceStanding
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.output.escape import escape_controls

# Bounds on what the remote gtui may answer (a plan document is a few KB).
MAX_ANSWER_BYTES = 2 << 20
MAX_ERROR_BYTES = 64 << 10
PLAN_TIMEOUT_S = 120.0
# A retune with a restart waits for the new master to serve.
RUN_TIMEOUT_S = 900.0
NOT_OURS_HINT = (
    "install gtui on {host} (same version) to act on it from here, or run gtui on {host}"
)


class RemoteRefused(Exception):
    """The remote gtui would not plan or run the action; one line, escaped."""


def plan_digest(plan: RetunePlan) -> str:
    """What a plan does, to one hash: the process (pid and start time), the
    strategy, the settings before and after, and each step's command."""
    target = plan.target
    body = {
        "action": plan.action.value,
        "strategy": plan.strategy.value if plan.strategy else None,
        "master_pid": target.master_pid,
        "master_start_ticks": target.master_start_ticks,
        "label": target.label,
        "before": encode(dict(plan.before)),
        "after": encode(dict(plan.after)),
        "steps": [step.command for step in plan.steps],
        "refusal": plan.refusal,
    }
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def master_stamp(plan: RetunePlan) -> str:
    """``PID:TICKS``: the master a plan is for (its start time tells a recycled pid)."""
    ticks = plan.target.master_start_ticks
    return f"{plan.target.master_pid}:{ticks if ticks is not None else ''}"


def parse_master_stamp(text: str) -> tuple[int, int | None]:
    """``PID:TICKS`` (TICKS may be empty) to numbers; ValueError otherwise."""
    pid_text, sep, ticks_text = text.partition(":")
    if not sep or not pid_text.isdigit() or (ticks_text and not ticks_text.isdigit()):
        raise ValueError(f"{text!r}: expected PID:TICKS")
    return int(pid_text), int(ticks_text) if ticks_text else None


def _clean_answer(document: dict[str, Any]) -> dict[str, Any]:
    """The remote's JSON with its text escaped, but for the encoded plan: it
    is decoded into a plan, checked against its digest, and escaped where it
    is shown, as a plan made here (a config file's content keeps its lines)."""
    agent = document.get("agent")
    plan = agent.get("plan") if isinstance(agent, dict) else None
    cleaned: dict[str, Any] = _clean(document)
    if isinstance(agent, dict) and plan is not None:
        cleaned["agent"] = {**cleaned["agent"], "plan": plan}
    return cleaned


def _clean(value: Any) -> Any:
    """The remote's JSON with every string's control characters escaped."""
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {escape_controls(str(k)): _clean(v) for k, v in value.items()}
    return value


_GTUI_ERROR = re.compile(r"^gtui(?: [a-z-]+)?: (?:error: )?")


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return escape_controls(_GTUI_ERROR.sub("", line)[:300])


@dataclass(frozen=True)
class RemoteAnswer:
    """What one run of the remote gtui said: its exit code, its JSON document
    (None when it printed none) and its last line on stderr, escaped."""

    exit_code: int
    document: Mapping[str, Any] | None
    error_line: str
    # stdout as text, escaped (a run without json_answer).
    text: str = ""


class RemoteGtui:
    """The gtui on ``host``, run non-interactively over ``session``."""

    def __init__(self, host: str, session: SshSession, command: Sequence[str]) -> None:
        self.host = host
        self._session = session
        self._command = tuple(command)

    def ssh_argv(self, words: Sequence[str]) -> list[str]:
        """ssh's argv for ``gtui WORDS...`` there: each word quoted for the remote shell."""
        return self._session.command([shlex.join([*self._command, *words])])

    def run(
        self,
        words: Sequence[str],
        timeout_s: float,
        *,
        json_answer: bool = True,
        interrupt: Interrupt | None = None,
    ) -> RemoteAnswer:
        """Run ``gtui WORDS...`` on the host; RemoteRefused when it cannot be
        reached, does not answer in time, or answers too much (or, with
        ``json_answer``, anything but one JSON document). When ``interrupt``
        is raised, the remote gtui's stdin is closed: a run with
        ``--agent-plan`` takes that as its interrupt (finishes or rolls back
        its current step) and still answers."""
        try:
            self._session.ensure()
        except SshFailed as error:
            raise RemoteRefused(escape_controls(str(error))) from error
        proc = subprocess.Popen(
            self.ssh_argv(words),
            stdin=subprocess.PIPE if interrupt is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = self._collect(proc, timeout_s, interrupt)
            code = proc.wait(timeout=10)
        finally:
            stop_child(proc, 3.0)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        error_line = _one_line(err.decode("utf-8", "replace"))
        if code == 127 or (code != 0 and not out and "not found" in error_line):
            raise RemoteRefused(f"no gtui on {self.host} ({error_line or 'not found'})")
        if not json_answer:
            text = escape_controls(out.decode("utf-8", "replace"), keep_newlines=True)
            return RemoteAnswer(code, None, error_line, text)
        document: Mapping[str, Any] | None = None
        if out.strip():
            try:
                parsed = json.loads(out)
            except ValueError as error:
                raise RemoteRefused(f"gtui on {self.host} answered no JSON") from error
            if not isinstance(parsed, dict):
                raise RemoteRefused(f"gtui on {self.host} answered no JSON document")
            document = _clean_answer(parsed)
        return RemoteAnswer(code, document, error_line)

    def _collect(
        self, proc: subprocess.Popen[bytes], timeout_s: float, interrupt: Interrupt | None
    ) -> tuple[bytes, bytes]:
        assert proc.stdout is not None and proc.stderr is not None
        limits = {proc.stdout.fileno(): MAX_ANSWER_BYTES, proc.stderr.fileno(): MAX_ERROR_BYTES}
        got: dict[int, bytearray] = {fd: bytearray() for fd in limits}
        open_fds = set(limits)
        deadline = time.monotonic() + timeout_s
        while open_fds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteRefused(f"gtui on {self.host}: no answer in {timeout_s:.0f} s")
            stdin = proc.stdin
            if interrupt is not None and interrupt.requested and stdin and not stdin.closed:
                with contextlib.suppress(OSError):
                    stdin.close()  # the remote gtui's interrupt
            ready, _, _ = select.select(list(open_fds), [], [], min(remaining, 0.2))
            for fd in ready:
                data = os.read(fd, 65536)
                if not data:
                    open_fds.discard(fd)
                    continue
                got[fd] += data
                if len(got[fd]) > limits[fd]:
                    raise RemoteRefused(f"gtui on {self.host}: answer longer than {limits[fd]} B")
        return bytes(got[proc.stdout.fileno()]), bytes(got[proc.stderr.fileno()])


# How a ControlEngine finds the gtui of a host: the RemoteGtui, or why there is none.
RemoteGtuiReach = Callable[[], "RemoteGtui | str"]


def _consent_words(consent: Consent) -> list[str]:
    return [flag for name, flag in CONSENT_FLAGS.items() if getattr(consent, name)]


def scale_words(sample: InstanceSample, request: ScaleRequest) -> list[str]:
    return ["scale", "--", f"pid:{sample.master.pid}", str(request)]


def retune_words(sample: InstanceSample, request: RetuneRequest) -> list[str]:
    words = ["retune"]
    flags = {
        "workers": "--workers",
        "worker_class": "--worker-class",
        "threads": "--threads",
        "worker_connections": "--worker-connections",
        "timeout": "--timeout",
        "graceful_timeout": "--graceful-timeout",
        "max_requests": "--max-requests",
        "max_requests_jitter": "--max-requests-jitter",
        "keepalive": "--keep-alive",
    }
    for name, value in request.changes().items():
        if name == "preload_app":
            words.append("--preload" if value else "--no-preload")
        else:
            words += [flags[name], str(value)]
    if request.allow_restart:
        words.append("--restart")
    return [*words, "--", f"pid:{sample.master.pid}"]


def reload_words(sample: InstanceSample) -> list[str]:
    return ["reload", "--", f"pid:{sample.master.pid}"]


def kill_worker_words(sample: InstanceSample, worker_pid: int) -> list[str]:
    return ["kill-worker", "--", f"pid:{sample.master.pid}", str(worker_pid)]


def revert_words(sample: InstanceSample) -> list[str]:
    return ["revert", "--", f"pid:{sample.master.pid}"]


@dataclass(frozen=True)
class _Planned:
    plan: RetunePlan
    words: tuple[str, ...]
    consent: Consent
    digest: str


class RemoteHostActions:
    """Plans and runs actions on ``host``'s masters outside containers by the
    gtui there (see the module docstring)."""

    def __init__(self, remote: RemoteGtui) -> None:
        self.remote = remote
        self.host = remote.host
        self._planned: dict[int, _Planned] = {}

    def plan(self, sample: InstanceSample, words: Sequence[str], consent: Consent) -> RetunePlan:
        """The remote gtui's plan (a dry run), as this side shows and confirms it."""
        action, rest = words[0], list(words[1:])
        sep = rest.index("--")
        argv = [action, *rest[:sep], *_consent_words(consent), "--no-docker", "--json",
                "--agent-plan", "--dry-run", *rest[sep:]]  # fmt: skip
        answer = self.remote.run(argv, PLAN_TIMEOUT_S)
        agent = (answer.document or {}).get("agent")
        if not isinstance(agent, dict) or "plan" not in agent:
            raise RemoteRefused(
                f"{self.host}: {answer.error_line or f'gtui there exited with {answer.exit_code}'}"
            )
        try:
            plan = decode_plan(agent["plan"])
        except (PlanDecodeError, TypeError, ValueError, KeyError) as error:
            raise RemoteRefused(
                f"gtui on {self.host} sent a plan this gtui cannot read ({error}): "
                "install the same gtui version on both"
            ) from error
        digest = plan_digest(plan)
        if agent.get("digest") != digest:
            raise RemoteRefused(
                f"gtui on {self.host} is another version (its plan reads differently here): "
                "install the same gtui version on both"
            )
        note = (
            f"on {self.host}: run by the gtui there over SSH (its journal, lock and audit "
            f"are on {self.host}; `gtui recover` there settles an interrupted one)"
        )
        target = replace(plan.target, host=self.host, key=sample.key)
        local = replace(plan, target=target, notes=(note, *plan.notes))
        self._planned[id(local)] = _Planned(local, tuple(words), consent, digest)
        return local

    def execute(
        self, plan: RetunePlan, interrupt: Interrupt | None = None
    ) -> tuple[ActionOutcome, str | None]:
        """Run a plan made by :meth:`plan` there, refused unless the remote
        gtui plans exactly the same for the same process; the outcome and
        the remote journal's id."""
        planned = self._planned.get(id(plan))
        if planned is None or planned.plan is not plan:
            raise RemoteRefused(f"{plan.target.label}: not a plan of the gtui on {self.host}")
        action, rest = planned.words[0], list(planned.words[1:])
        sep = rest.index("--")
        argv = [action, *rest[:sep], *_consent_words(planned.consent), "--no-docker", "--json",
                "--agent-plan", "--yes", "--expect-plan", planned.digest,
                "--expect-master", master_stamp(plan), *rest[sep:]]  # fmt: skip
        answer = self.remote.run(argv, RUN_TIMEOUT_S, interrupt=interrupt or Interrupt())
        document = answer.document or {}
        outcome = document.get("outcome")
        if not isinstance(outcome, dict):
            raise RemoteRefused(
                f"{self.host}: {answer.error_line or f'gtui there exited with {answer.exit_code}'}"
            )
        agent = document.get("agent")
        journal_id = agent.get("journal_id") if isinstance(agent, dict) else None
        journal_id = journal_id if isinstance(journal_id, str) else None
        done = _outcome(plan, outcome, self.host, journal_id)
        if interrupt is not None and interrupt.requested and interrupt.reason:
            done = replace(done, interrupted=interrupt.reason)
        return done, journal_id


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _outcome(
    plan: RetunePlan, data: Mapping[str, Any], host: str, journal_id: str | None
) -> ActionOutcome:
    try:
        status = OutcomeStatus(str(data.get("status")))
    except ValueError:
        status = OutcomeStatus.FAILED
    try:
        standing = ServiceStanding(str(data.get("standing")))
    except ValueError:
        standing = ServiceStanding.NEW if status is OutcomeStatus.OK else ServiceStanding.OLD
    journal_path = data.get("journal_path")
    notes = data.get("notes")
    notes = notes if isinstance(notes, list) else []
    new_pid = data.get("new_master_pid")
    return ActionOutcome(
        status=status,
        action=plan.action.value,
        strategy=plan.strategy.value if plan.strategy else None,
        target=f"{host}/{plan.target.label}",
        before=dict(plan.before),
        after=dict(plan.after) if status is OutcomeStatus.OK else {},
        steps_done=int(data.get("steps_done") or 0),
        steps_total=int(data.get("steps_total") or len(plan.steps)),
        error=str(data["error"]) if data.get("error") else None,
        served_after_s=_number(data.get("served_after_s")),
        journal_id=journal_id,
        journal_path=f"{host}:{journal_path}" if isinstance(journal_path, str) else None,
        new_master_pid=new_pid if isinstance(new_pid, int) else None,
        notes=(
            f"run on {host} by the gtui there",
            *(str(n) for n in notes),
            *(
                (
                    f"its journal is on {host}: `gtui recover -H` with {host}'s ssh:// URL here, "
                    f"or `gtui recover` on {host}, settles it",
                )
                if status is OutcomeStatus.NEEDS_RECOVERY
                else ()
            ),
        ),
        interrupted=str(data["interrupted"]) if data.get("interrupted") else None,
        standing=standing,
    )

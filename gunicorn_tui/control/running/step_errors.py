"""The one error a plan step raises: a line for the operator."""

from __future__ import annotations

from gunicorn_tui.access.errors import AccessError


class StepError(Exception):
    """A step failed; the message is one line for the operator."""


class Interrupted(StepError):
    """The operator interrupted the action (SIGINT, SIGTERM, quitting the dashboard)."""


class WrongEngine(StepError):
    """A journal written for another container engine than the one connected."""


def step_error(error: AccessError) -> StepError:
    """The StepError an access failure becomes (same message)."""
    return StepError(str(error))

"""The one error a plan step raises: a line for the operator."""

from __future__ import annotations


class StepError(Exception):
    """A step failed; the message is one line for the operator."""


class Interrupted(StepError):
    """The operator interrupted the action (SIGINT, SIGTERM, quitting the dashboard)."""


class WrongEngine(StepError):
    """A journal written for another container engine than the one connected."""

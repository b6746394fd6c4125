"""Errors of the access layer: one line each, for the operator."""

from __future__ import annotations


class AccessError(Exception):
    """Something the access layer was asked to do did not happen; the message says why."""


class AccessRefused(AccessError):
    """The access layer will not do this: it would be unsafe, or a fact changed."""


class TargetGone(AccessError):
    """The process or container acted on no longer exists."""


class TargetChanged(AccessRefused):
    """What a plan relied on is no longer so (a pid reused, a file changed)."""


class EngineLost(AccessError):
    """The container engine stopped answering."""

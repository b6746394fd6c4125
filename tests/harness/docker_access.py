"""Whether Docker tests must run here, and what to do when they cannot."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def docker_required() -> bool:
    """True when a missing engine or image is a failure, not a skip.

    CI sets ``CI=true``; a developer can ask for the same with
    ``GTUI_REQUIRE_DOCKER=1``.
    """
    return (
        os.environ.get("CI", "").strip().lower() == "true"
        or os.environ.get("GTUI_REQUIRE_DOCKER", "").strip() == "1"
    )


def docker_unavailable(reason: str) -> NoReturn:
    """Fail the test when Docker tests are required here, else skip it."""
    if docker_required():
        pytest.fail(
            f"{reason} (Docker tests are required here: CI=true or GTUI_REQUIRE_DOCKER=1)",
            pytrace=False,
        )
    pytest.skip(reason)

"""Weighted picks and {n} values."""

from __future__ import annotations

from collections import Counter

import pytest

from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.request_mix import RequestMix

PROFILE = """
[run]
rate_rps = 1
max_requests = 1

[[request]]
path = "/fast"
weight = 6

[[request]]
path = "/io?ms=5"
weight = 3

[[request]]
path = "/items/{n}/tags/{n}"
n_range = [10, 12]
weight = 1
"""


def test_picks_follow_the_weights() -> None:
    specs = parse_profile_text(PROFILE).requests
    mix = RequestMix(specs, seed=1)
    picks = Counter(mix.next()[0] for _ in range(30_000))
    assert picks[0] / 30_000 == pytest.approx(0.6, abs=0.015)
    assert picks[1] / 30_000 == pytest.approx(0.3, abs=0.015)
    assert picks[2] / 30_000 == pytest.approx(0.1, abs=0.01)


def test_placeholders_are_filled_in_range() -> None:
    specs = parse_profile_text(PROFILE).requests
    mix = RequestMix(specs, seed=3)
    paths = [path for index, path in (mix.next() for _ in range(3000)) if index == 2]
    values = {int(part) for path in paths for part in path.split("/") if part.isdigit()}
    assert values == {10, 11, 12}
    assert all("{n}" not in path for path in paths)


def test_same_seed_same_sequence() -> None:
    specs = parse_profile_text(PROFILE).requests
    first = [RequestMix(specs, seed=9).next() for _ in range(1)]
    a, b = RequestMix(specs, seed=9), RequestMix(specs, seed=9)
    assert [a.next() for _ in range(200)] == [b.next() for _ in range(200)]
    assert first


def test_a_single_request_needs_no_draw() -> None:
    spec = parse_profile_text(PROFILE).requests[0]
    mix = RequestMix([spec])
    assert {mix.next() for _ in range(10)} == {(0, "/fast")}


def test_an_empty_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RequestMix([])

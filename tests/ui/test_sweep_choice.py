"""The Sweep form's checks on data: the grid's rules (``gtui sweep``'s),
the timing, and the load (a profile, or a rate/concurrency and a path)."""

from __future__ import annotations

import dataclasses

import pytest

from gunicorn_tui.compare.interleave import InterleaveSettings
from gunicorn_tui.load.inline_profile import inline_profile
from gunicorn_tui.load.profile import ProfileError, RunMode
from gunicorn_tui.model.instances import GunicornConfig
from gunicorn_tui.sweep.rounds import default_cap_s
from gunicorn_tui.sweep.runner import SweepSettings
from gunicorn_tui.ui.sweep.sweep_choice import SweepFields, choose

NONE = GunicornConfig({})
GOOD = SweepFields(
    workers="1,2",
    worker_classes="sync",
    threads="",
    measure_s="20",
    warmup_s="5",
    profile="",
    rate="20",
    concurrency="",
    path="/fast",
)


def problems_of(**changes: object) -> list[str]:
    choice, problems = choose(dataclasses.replace(GOOD, **changes), NONE)  # type: ignore[arg-type]
    assert (choice is None) == bool(problems)
    return problems


def test_good_values_make_the_grid_the_cli_would() -> None:
    choice, problems = choose(dataclasses.replace(GOOD, keep_winner=True), NONE)
    assert problems == [] and choice is not None
    assert [c.label for c in choice.configs] == ["1 x sync", "2 x sync"]
    assert choice.profile.rate_rps == 20 and choice.profile.requests[0].path == "/fast"
    assert choice.per_config_s == 25
    settings = choice.settings(SweepSettings(min_measured_s=3.0))
    assert (settings.warmup_s, settings.measure_s, settings.keep_winner) == (5, 20, True)
    assert settings.min_measured_s == 3.0


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"workers": "0,2"}, "workers: 0 is not a worker count (1 to 512)"),
        ({"workers": "two"}, "workers: 'two' is not a whole number"),
        ({"workers": ""}, "workers: name at least one count"),
        ({"worker_classes": "sync,quantum"}, "worker classes: unknown worker class 'quantum'"),
        ({"threads": "4"}, "threads only applies to gthread: add gthread to worker classes"),
        ({"measure_s": "0"}, "duration: must be more than 0 s"),
        ({"measure_s": "601"}, "duration: 601 s is not between 0 and 600 s"),
        ({"measure_s": "abc"}, "duration: 'abc' is not a number of seconds"),
        ({"warmup_s": "-1"}, "warm-up: -1 s is not between 0 and 600 s"),
        ({"profile": "mixed"}, "load: a profile or a rate/concurrency, not both"),
        ({"rate": ""}, "load: name a profile, a rate or a concurrency"),
        ({"rate": "20", "concurrency": "4"}, "name either a rate (req/s) or a concurrency"),
        ({"rate": "0"}, "rate: must be > 0"),
        ({"path": "fast"}, "path: must start with '/'"),
        ({"profile": "no-such-profile", "rate": ""}, "no such file or built-in profile"),
    ],
)
def test_bad_values_are_refused_with_the_reason(changes: dict[str, str], expected: str) -> None:
    problems = problems_of(**changes)
    assert any(expected in problem for problem in problems), problems


def test_a_built_in_profile_or_clients_instead_of_a_rate() -> None:
    choice, _ = choose(dataclasses.replace(GOOD, profile="mixed", rate=""), NONE)
    assert choice is not None and choice.profile.source == "built-in:mixed"
    choice, _ = choose(dataclasses.replace(GOOD, rate="", concurrency="4"), NONE)
    assert choice is not None and choice.profile.mode is RunMode.CLOSED
    assert choice.profile.concurrency == 4


def test_gthread_threads_multiply_the_grid() -> None:
    choice, problems = choose(
        dataclasses.replace(GOOD, worker_classes="sync,gthread", threads="2,4"), NONE
    )
    assert problems == [] and choice is not None
    assert [c.label for c in choice.configs] == [
        "1 x sync", "2 x sync", "1 x gthread/2", "1 x gthread/4", "2 x gthread/2",
        "2 x gthread/4",
    ]  # fmt: skip


def test_inline_profile_needs_a_whole_number_of_clients() -> None:
    with pytest.raises(ProfileError, match=r"concurrency: 2\.5 is not a whole number"):
        inline_profile("", "2.5", "/")
    assert inline_profile(" 5 ", "", "").requests[0].path == "/"


def test_the_rounds_are_gtui_sweeps_own_unless_measured_in_turn() -> None:
    base = SweepSettings(interleave=InterleaveSettings(segment_s=3.0, seed=7))
    choice, problems = choose(GOOD, NONE)
    assert problems == [] and choice is not None and choice.interleaved
    rounds = choice.settings(base).interleave
    # The CLI's default cap for two configs, the base's shape.
    assert rounds is not None and rounds.cap_s == default_cap_s(2) == 60.0
    assert (rounds.segment_s, rounds.seed) == (3.0, 7)
    capped, _ = choose(dataclasses.replace(GOOD, cap_s="120"), NONE)
    assert capped is not None and capped.settings(base).interleave.cap_s == 120.0  # type: ignore[union-attr]
    in_turn, _ = choose(dataclasses.replace(GOOD, in_turn=True), NONE)
    assert in_turn is not None and not in_turn.interleaved
    assert in_turn.settings(base).interleave is None
    one, _ = choose(dataclasses.replace(GOOD, workers="2"), NONE)
    assert one is not None and one.settings(base).interleave is None


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        ("5", "cap: 5 s is not between 10 and 600 s"),
        ("soon", "cap: 'soon' is not a number of seconds"),
        ("10", "cap: a cap of 10 s cannot answer"),
    ],
)
def test_a_cap_that_cannot_answer_is_refused(cap: str, expected: str) -> None:
    problems = problems_of(cap_s=cap)
    assert any(p.startswith(expected) for p in problems), problems
    assert problems_of(cap_s=cap, in_turn=True) == []  # the cap does not apply in turn

"""The epoch tracker on samples built from data: each kind of change, the
warm-up, the boundaries, the bounds."""

from __future__ import annotations

import math

import pytest

from gunicorn_tui.compare.comparison import Significance, compare_epochs
from gunicorn_tui.compare.epochs import ChangeKind, ClientSecond, EpochTracker, ServerSecond
from gunicorn_tui.compare.summary import summarize
from tests.compare.samples import sample_at

T0 = 1_800_000_000.0


def feed(tracker: EpochTracker, start: float, seconds: int, **sample_options: object) -> None:
    """One sample a second and one server second for each, at ``start``..."""
    for offset in range(seconds):
        at = start + offset
        tracker.observe(sample_at(at, **sample_options))  # type: ignore[arg-type]
        tracker.add_server_seconds([ServerSecond(int(at) - 1, 50, 0.0, 10.0, 20.0, 30.0)])


def test_first_sample_starts_an_epoch_without_warm_up() -> None:
    tracker = EpochTracker(warmup_s=10)
    tracker.observe(sample_at(T0))
    (epoch,) = tracker.epochs()
    assert epoch.change.kind is ChangeKind.STARTED and epoch.warmup_s == 0
    assert epoch.config is not None and epoch.config.describe() == "2 x sync, timeout 30 s"


def test_a_worker_count_that_stays_starts_an_epoch_at_the_last_old_reading() -> None:
    tracker = EpochTracker(warmup_s=5, stable_readings=3)
    feed(tracker, T0, 10, workers=2)
    # A HUP doubles the workers for two readings: not a new configuration.
    feed(tracker, T0 + 10, 2, workers=4)
    feed(tracker, T0 + 12, 3, workers=2)
    assert len(tracker.epochs()) == 1
    changes = [tracker.observe(sample_at(T0 + 15 + i, workers=3)) for i in range(3)]
    assert changes[:2] == [None, None]
    change = changes[2]
    assert change is not None and change.kind is ChangeKind.WORKER_COUNT
    assert change.detail == "workers 2 -> 3"
    assert change.at == T0 + 14  # the last reading with two workers
    old, new = tracker.epochs()
    assert old.ended_at == T0 + 14 and new.started_at == T0 + 14
    assert all(r.end_at <= T0 + 14 for r in old.resources)
    assert [r.taken_at for r in new.resources] == [T0 + 15, T0 + 16, T0 + 17]
    assert new.config is not None and new.config.workers == 3


@pytest.mark.parametrize(
    ("changed", "kind"),
    [
        ({"worker_class": "gthread"}, ChangeKind.SETTINGS),
        ({"timeout": 60}, ChangeKind.SETTINGS),
        ({"master_pid": 200, "first_worker_pid": 201}, ChangeKind.MASTER_RESTARTED),
        ({"reloads": 1}, ChangeKind.RELOAD),
    ],
)
def test_changes_noticed_from_outside(changed: dict[str, object], kind: ChangeKind) -> None:
    tracker = EpochTracker(warmup_s=5)
    base: dict[str, object] = {"reloads": 0}
    feed(tracker, T0, 5, **base)
    change = tracker.observe(sample_at(T0 + 5, **{**base, **changed}))  # type: ignore[arg-type]
    assert change is not None and change.kind is kind, change
    assert change.at == T0 + 4
    assert len(tracker.epochs()) == 2


def test_a_re_created_container_is_followed_by_name() -> None:
    tracker = EpochTracker(warmup_s=5)
    feed(tracker, T0, 5, container_id="a" * 64)
    recreated = sample_at(T0 + 5, container_id="b" * 64, master_pid=300)
    assert tracker.select_sample(recreated)
    assert not tracker.select_sample(sample_at(T0 + 5, container_id="c" * 64,
                                               container_name="other"))  # fmt: skip
    change = tracker.observe(recreated)
    assert change is not None and change.kind is ChangeKind.CONTAINER_RECREATED
    assert "aaaaaaaaaaaa -> bbbbbbbbbbbb" in change.detail
    assert tracker.key == recreated.key


def test_warm_up_is_left_out_of_the_summary_and_said() -> None:
    tracker = EpochTracker(warmup_s=10)
    feed(tracker, T0, 20)
    tracker.mark_change("retune: workers=4", at=T0 + 19.5)
    feed(tracker, T0 + 20, 30, cpu_percent=80.0)
    epoch = tracker.current()
    assert epoch is not None and epoch.change.kind is ChangeKind.MARKED
    summary = summarize(epoch)
    assert summary.warmup_s == pytest.approx(10.0)
    # Server seconds T0+20 .. T0+48 are in the epoch; those before T0+29.5 are warm-up.
    assert summary.server_seconds == len([s for s in epoch.server if s.start_at >= T0 + 29.5])
    assert summary.cpu_percent == pytest.approx(80.0)
    assert summary.enough_data


def test_a_change_noticed_during_a_marked_change_belongs_to_it() -> None:
    tracker = EpochTracker(warmup_s=5, stable_readings=2)
    feed(tracker, T0, 10, workers=1)
    tracker.begin_change("retune: workers=4", at=T0 + 9.5)
    feed(tracker, T0 + 10, 6, workers=4)
    epoch = tracker.current()
    assert epoch is not None and math.isinf(epoch.measured_from)
    tracker.end_change(at=T0 + 16)
    feed(tracker, T0 + 16, 10, workers=4)
    epochs = tracker.epochs()
    assert len(epochs) == 2
    assert epochs[1].config is not None and epochs[1].config.workers == 4
    assert epochs[1].measured_from == pytest.approx(T0 + 21)
    assert any("workers 1 -> 4" in note for note in epochs[1].notes)


def test_workers_counted_after_a_retune_warm_up_as_long_as_the_retune_said() -> None:
    # The guided A/B ends its retune with a 3 s warm-up; the new workers are
    # counted two readings later and warm up 3 s from there, not the
    # tracker's default 10 s (which left the after side 4 s of data).
    tracker = EpochTracker(warmup_s=10, stable_readings=2)
    feed(tracker, T0, 10, workers=1)
    tracker.begin_change("retune: workers=4", at=T0 + 9.5)
    tracker.end_change(at=T0 + 10, warmup_s=3)
    feed(tracker, T0 + 10, 10, workers=4)
    epoch = tracker.current()
    assert epoch is not None and any("workers 1 -> 4" in note for note in epoch.notes)
    assert epoch.measured_from == pytest.approx(T0 + 11 + 3)


def test_records_are_routed_by_time_and_straddlers_dropped() -> None:
    tracker = EpochTracker(warmup_s=0)
    feed(tracker, T0, 5)
    tracker.mark_change("x", at=T0 + 10.5)
    tracker.observe(sample_at(T0 + 11))
    # A late second of the old epoch, one across the boundary, one of the new.
    tracker.add_server_seconds([ServerSecond(int(T0) + s, 1, None, 1, 1, 1) for s in (9, 10, 11)])
    tracker.add_client_second(ClientSecond(T0 + 10.2, 1.0, 5, 5, 0, 0, 1, 1, 1))
    old, new = tracker.epochs()
    assert [s.second for s in old.server][-1] == int(T0) + 9
    assert [s.second for s in new.server] == [int(T0) + 11]
    # The second across the boundary, the client second across it, and the
    # resource reading at T0+11, whose interval began at T0+4.
    assert tracker.straddling_records == 3
    assert old.client == () and new.client == ()


def test_records_per_epoch_are_bounded() -> None:
    tracker = EpochTracker(warmup_s=0, max_records=20)
    feed(tracker, T0, 50)
    epoch = tracker.current()
    assert epoch is not None
    assert len(epoch.server) == 20 and len(epoch.resources) == 20
    # 49 readings and 49 seconds fall in the epoch (the first sample only
    # primes; the first second precedes it): 29 of each pushed out.
    assert epoch.dropped_records == 2 * (49 - 20)
    assert summarize(epoch).notes  # said in the summary


def test_a_two_second_epoch_has_not_enough_data() -> None:
    tracker = EpochTracker(warmup_s=0)
    feed(tracker, T0, 30)
    tracker.mark_change("short", at=T0 + 29.5)
    feed(tracker, T0 + 30, 2)
    before, after = tracker.epochs()
    comparison = compare_epochs(before, after)
    assert not comparison.enough_data and not comparison.any_significant
    assert all(
        m.delta is None and m.significance in (Significance.NOT_ENOUGH_DATA,
                                               Significance.UNAVAILABLE)
        for m in comparison.metrics
    )  # fmt: skip
    assert any("not enough data" in note for note in comparison.notes)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="warmup_s"):
        EpochTracker(warmup_s=-1)
    with pytest.raises(ValueError, match="stable_readings"):
        EpochTracker(stable_readings=0)

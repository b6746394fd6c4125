"""The agent stream's deltas (pure: records made here)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gunicorn_tui.output.agent_stream import (
    AgentStreamError,
    FrameDecoder,
    FrameEncoder,
    check_hello,
    flatten,
    hello,
    unflatten,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=4), json_values, max_size=5))
def test_flatten_and_unflatten_round_trip(record: dict[str, object]) -> None:
    assert unflatten(flatten(record)) == record


records = st.dictionaries(
    st.sampled_from("abc"),
    st.dictionaries(st.sampled_from("xyz"), json_values, max_size=3),
    max_size=3,
)


@given(st.lists(records, min_size=1, max_size=5))
def test_frames_arrive_whole_whatever_changed(frames: list[dict[str, dict[str, object]]]) -> None:
    encoder, decoder = FrameEncoder(), FrameDecoder()
    for number, records in enumerate(frames):
        data = encoder.frame(float(number), records, ("a notice",) if number == 0 else ())
        # The stream may arrive cut anywhere.
        got = [f for part in (data[:3], data[3:]) for f in decoder.feed(part)]
        assert len(got) == 1
        assert got[0].records == records and got[0].taken_at == number


def test_an_unchanged_instance_costs_almost_nothing() -> None:
    workers: list[dict[str, float]] = [{"pid": n, "cpu_percent": 1.0} for n in range(8)]
    record = {"key": "k", "workers": workers}
    encoder = FrameEncoder()
    first = len(encoder.frame(0.0, {"k": record}))
    workers[3]["cpu_percent"] = 2.5
    second = len(encoder.frame(1.0, {"k": record}))
    assert second < first / 2


def test_hello_of_another_version_is_refused_with_the_reason() -> None:
    check_hello(hello("gtui.snapshot/2", "1.0", "h").strip(), "gtui.snapshot/2")
    other = hello("gtui.snapshot/3", "9.9", "h").strip()
    with pytest.raises(AgentStreamError, match=r"remote gtui 9\.9 .* gtui\.snapshot/3"):
        check_hello(other, "gtui.snapshot/2")
    with pytest.raises(AgentStreamError, match="not a gtui agent"):
        check_hello(b"bash: gtui: command not found", "gtui.snapshot/2")
    with pytest.raises(AgentStreamError):
        check_hello(json.dumps({"x": 1}).encode(), "gtui.snapshot/2")


def test_a_compression_bomb_is_refused_not_expanded() -> None:
    import zlib

    bomb = zlib.compressobj()
    data = bomb.compress(b"x" * (64 << 20)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(data) < 1 << 20
    decoder = FrameDecoder()
    with pytest.raises(AgentStreamError, match="larger than 4 MiB"):
        list(decoder.feed(data))

"""GTUI_SSH_LOG_STREAMS: the cap on log streams per ssh:// host, read with a
clear word on a value that is not a whole number."""

from __future__ import annotations

import pytest

from gunicorn_tui.monitor.monitor import DEFAULT_SSH_LOG_STREAMS, ssh_log_streams


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", DEFAULT_SSH_LOG_STREAMS), ("0", 0), ("12", 12), (" 3 ", 3)],
)
def test_the_cap_is_read(monkeypatch: pytest.MonkeyPatch, text: str, expected: int) -> None:
    monkeypatch.setenv("GTUI_SSH_LOG_STREAMS", text)
    assert ssh_log_streams() == (expected, None)


@pytest.mark.parametrize("text", ["-1", "two", "1.5", "9" * 40 + "x"])
def test_a_bad_value_is_said_and_the_default_used(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("GTUI_SSH_LOG_STREAMS", text)
    cap, problem = ssh_log_streams()
    assert cap == DEFAULT_SSH_LOG_STREAMS
    assert problem is not None and "GTUI_SSH_LOG_STREAMS" in problem
    assert "\n" not in problem and len(problem) < 120

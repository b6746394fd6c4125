"""Target URLs from binds, profiles and overrides."""

from __future__ import annotations

import pytest

from gunicorn_tui.load.target import (
    LoadTarget,
    TargetError,
    resolve_target,
    target_from_bind,
    validate_base_url,
)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        (":9000", "http://127.0.0.1:9000"),
        ("9001", "http://127.0.0.1:9001"),
        ("localhost", "http://localhost:8000"),
        ("tcp://10.1.2.3:81", "http://10.1.2.3:81"),
        ("[::]:8000", "http://[::1]:8000"),
        ("[::1]:8001", "http://[::1]:8001"),
        ("[fe80::1]", "http://[fe80::1]:8000"),
        (["unix:/run/g.sock", "0.0.0.0:5000"], "http://127.0.0.1:5000"),
    ],
)
def test_tcp_binds(bind: str | list[str], url: str) -> None:
    assert target_from_bind(bind) == LoadTarget(base_url=url)


def test_unix_bind_goes_through_the_socket() -> None:
    target = target_from_bind("unix:/run/gunicorn.sock")
    assert target.unix_socket_path == "/run/gunicorn.sock"
    assert target.base_url == "http://localhost"
    assert target.label == "unix:/run/gunicorn.sock"
    assert target_from_bind(["unix:///tmp/x.sock"]).unix_socket_path == "/tmp/x.sock"


@pytest.mark.parametrize(
    ("bind", "message"),
    [
        ([], "no bind address"),
        ("fd://3", "only file-descriptor binds"),
        ("127.0.0.1:http", "the port is not a number"),
        ("127.0.0.1:70000", "out of range"),
        ("::1:8000", "must be in brackets"),
        ("[::1:8000", "unbalanced brackets"),
        ("unix:", "without a path"),
    ],
)
def test_bad_binds(bind: str | list[str], message: str) -> None:
    with pytest.raises(TargetError, match=message):
        target_from_bind(bind)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8000", "scheme must be http or https"),
        ("ftp://h/", "scheme must be http or https"),
        ("http://", "no host"),
        ("http://h:99999", "not a valid URL"),
        ("http://h/?q=1", "no query or fragment"),
        ("http://h:0", "port 0"),
        ("  ", "expected an http"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        validate_base_url(url)


def test_precedence_override_then_profile_then_bind() -> None:
    bind = "0.0.0.0:8000"
    assert resolve_target(override_url="http://a:1/", profile_base_url="http://b:2", bind=bind) == (
        LoadTarget("http://a:1")
    )
    assert resolve_target(profile_base_url="http://b:2", bind=bind) == LoadTarget("http://b:2")
    assert resolve_target(bind=bind) == LoadTarget("http://127.0.0.1:8000")
    with pytest.raises(TargetError, match="no target"):
        resolve_target()
    with pytest.raises(TargetError, match=r"^url: "):
        resolve_target(override_url="nope")


def test_round_robin_target_joins_the_replicas_urls() -> None:
    from gunicorn_tui.load.target import round_robin_target

    one = LoadTarget("http://127.0.0.1:18001")
    two = LoadTarget("http://127.0.0.1:18002")
    joined = round_robin_target([one, two])
    assert joined.base_urls == ("http://127.0.0.1:18001", "http://127.0.0.1:18002")
    assert joined.label == "http://127.0.0.1:18001, http://127.0.0.1:18002 (round-robin)"
    assert round_robin_target([one]) == one
    with pytest.raises(TargetError, match="same URL"):
        round_robin_target([one, one])
    with pytest.raises(TargetError, match="differ in path"):
        round_robin_target([one, LoadTarget("http://127.0.0.1:18003/api")])
    with pytest.raises(TargetError, match="Unix socket"):
        round_robin_target([one, target_from_bind("unix:/run/g.sock")])
    with pytest.raises(TargetError, match="no target"):
        round_robin_target([])

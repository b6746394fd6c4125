"""Profile parsing and validation, tested with profile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunicorn_tui.load.profile import (
    DEFAULT_DRAIN_S,
    DEFAULT_OPEN_LOOP_CONNECTIONS,
    DEFAULT_TIMEOUT_S,
    MAX_DURATION_S,
    ProfileError,
    RunMode,
    builtin_profile_names,
    load_profile,
    load_profile_or_builtin,
    parse_profile_text,
)

DATA = Path(__file__).parent / "data" / "profiles"
BAD_FILES = sorted((DATA / "bad").glob("*.toml"))


def _expectations(path: Path) -> list[str]:
    lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    return [line.split("expect:", 1)[1].strip() for line in lines if "# expect:" in line]


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.stem for p in BAD_FILES])
def test_bad_profile_names_each_problem(path: Path) -> None:
    expected = _expectations(path)
    assert expected, f"{path.name} declares no '# expect:' line"
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    # One problem per expectation: nothing reported twice or left unexplained.
    assert len(caught.value.problems) == len(expected), caught.value.problems


def test_full_open_profile() -> None:
    profile = load_profile(DATA / "good" / "full_open.toml")
    assert profile.mode is RunMode.OPEN
    assert profile.rate_rps == 250.5
    assert profile.concurrency is None
    assert (profile.ramp_up_s, profile.duration_s, profile.max_requests) == (2.0, 30.0, 5000)
    assert (profile.timeout_s, profile.connections, profile.drain_s) == (4.0, 16, 1.5)
    assert profile.base_url == "https://127.0.0.1:8443/api"
    assert profile.verify_tls is False
    assert profile.seed == 42
    create, lookup = profile.requests
    assert create.name == "create item"
    assert create.method == "POST"
    assert create.weight == 1.5
    assert create.headers == (("Content-Type", "application/json"), ("X-Test", "yes"))
    assert create.body == b'{"name": "x"}'
    assert not create.has_placeholder
    assert lookup.name == "GET /items/{n}"
    assert (lookup.n_min, lookup.n_max) == (100, 199)
    assert lookup.has_placeholder
    assert lookup.body is None


def test_defaults_of_a_closed_count_only_profile() -> None:
    profile = load_profile(DATA / "good" / "closed_count_only.toml")
    assert profile.mode is RunMode.CLOSED
    assert profile.concurrency == 8
    assert profile.connections == 8  # one per client unless limited
    assert profile.duration_s is None
    assert profile.max_requests == 1000
    assert profile.time_bound_s == MAX_DURATION_S  # still bounded in time
    assert profile.timeout_s == DEFAULT_TIMEOUT_S
    assert profile.drain_s == DEFAULT_DRAIN_S
    assert profile.verify_tls is True
    assert profile.requests[0].weight == 1.0


def test_open_loop_defaults() -> None:
    profile = parse_profile_text('[run]\nrate_rps = 5\nduration_s = 1\n[[request]]\npath = "/"\n')
    assert profile.mode is RunMode.OPEN
    assert profile.connections == DEFAULT_OPEN_LOOP_CONNECTIONS
    assert profile.ramp_up_s == 0.0


def test_drain_defaults_to_the_timeout_when_shorter() -> None:
    profile = parse_profile_text(
        '[run]\nrate_rps = 5\nduration_s = 1\ntimeout_s = 0.5\n[[request]]\npath = "/"\n'
    )
    assert profile.drain_s == 0.5


def test_overrides_are_validated_like_the_file() -> None:
    text = '[run]\nrate_rps = 5\nduration_s = 10\n[[request]]\npath = "/fast"\n'
    profile = parse_profile_text(text, overrides={"duration_s": 2, "rate_rps": 40})
    assert (profile.duration_s, profile.rate_rps) == (2.0, 40.0)
    with pytest.raises(ProfileError, match=r"run\.duration_s: must be > 0 and <= 3600"):
        parse_profile_text(text, overrides={"duration_s": 7200})
    # None removes a field: here the only bound, which must be refused.
    with pytest.raises(ProfileError, match="a run must be bounded"):
        parse_profile_text(text, overrides={"duration_s": None})
    closed = parse_profile_text(
        text, overrides={"mode": "closed", "concurrency": 3, "rate_rps": None}
    )
    assert (closed.mode, closed.concurrency, closed.rate_rps) == (RunMode.CLOSED, 3, None)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "absent.toml")


def test_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path)


def test_builtin_profile_is_shipped_and_valid() -> None:
    assert "mixed" in builtin_profile_names()
    profile = load_profile_or_builtin("mixed")
    paths = {spec.path.split("?")[0] for spec in profile.requests}
    assert {"/fast", "/cpu", "/io", "/items/{n}"} <= paths
    assert profile.duration_s is not None or profile.max_requests is not None
    assert profile.source == "built-in:mixed"


def test_unknown_builtin_names_the_choices() -> None:
    with pytest.raises(ProfileError, match=r"built-in: .*mixed"):
        load_profile_or_builtin("no-such-profile")


def test_a_file_wins_over_a_builtin_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mixed").write_text(
        '[run]\nrate_rps = 7\nmax_requests = 3\n[[request]]\npath = "/x"\n'
    )
    monkeypatch.chdir(tmp_path)
    assert load_profile_or_builtin("mixed").rate_rps == 7.0


def test_a_path_longer_than_any_server_takes_is_refused() -> None:
    text = f'[run]\nrate_rps = 1\nmax_requests = 1\n[[request]]\npath = "/{"x" * 9000}"\n'
    with pytest.raises(ProfileError, match=r"request\[0\]\.path: at most 8192 characters"):
        parse_profile_text(text)

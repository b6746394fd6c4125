"""Where an action goes: the engine its instance came from (no engine needed to check)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunicorn_tui.control.engine import ActionRefused, ControlEngine, HostEngine


def _engine(tmp_path: Path) -> ControlEngine:
    return ControlEngine(
        state_directory=tmp_path,
        host="local",
        other_hosts={"web2": HostEngine(connect=lambda: None, address="ssh://web2", api_only=True)},
    )


def test_each_host_gets_its_own_engine_and_the_same_state(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    assert engine.for_host("local") is engine
    web2 = engine.for_host("web2")
    assert web2 is not engine and web2.host == "web2" and web2.access.api_only
    assert engine.for_host("web2") is web2  # made once
    assert web2.journals.journal_dir == engine.journals.journal_dir
    assert web2.audit.path == engine.audit.path


def test_a_master_outside_containers_on_another_host_is_refused(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    assert engine.for_host("local", container=False) is engine
    with pytest.raises(ActionRefused, match="outside containers on web2"):
        engine.for_host("web2", container=False)


def test_an_engine_not_watched_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ActionRefused, match="web3 is not one this session watches"):
        _engine(tmp_path).for_host("web3")

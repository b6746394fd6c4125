"""gtui persist's pieces on files: Compose files rewritten with comments and
formatting kept (or refused, with the reason), gunicorn.conf.py assignments,
and the careful writer (no symlinks, own files only, read back)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gunicorn_tui.persist.compose_file import ComposeRefused, read_service, rewrite_service
from gunicorn_tui.persist.drift import drift
from gunicorn_tui.persist.plan import compose_paths, rewrite_python_settings
from gunicorn_tui.persist.safe_write import FileRefused, read_text, replace_text

DATA = Path(__file__).parent / "data" / "compose"


def _service(name: str) -> tuple[str, object]:
    text = (DATA / name).read_text()
    found = read_service(str(DATA / name), text, "web")
    assert found is not None
    return text, found


def _changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    pairs = list(zip(old.splitlines(), new.splitlines(), strict=True))
    return [(a, b) for a, b in pairs if a != b]


def test_list_command_and_env_list_are_rewritten_in_place() -> None:
    text, found = _service("list_command.yml")
    assert found.command_settings() == {"bind": "0.0.0.0:8000", "workers": 2}  # type: ignore[attr-defined]
    assert found.env_settings() == {"max_requests": 50}  # type: ignore[attr-defined]
    edit = rewrite_service(found, {"workers": 4, "timeout": 45, "max_requests": 100}, [])  # type: ignore[arg-type]
    # Comments, blank lines, quoting and the other service are kept word for word.
    assert _changed_lines(text, edit.new_text) == [
        (
            '    command: ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "app:app"]',
            '    command: ["gunicorn", "--timeout", "45", "--bind", "0.0.0.0:8000", '
            '"-w", "4", "app:app"]',
        ),
        (
            "      - GUNICORN_CMD_ARGS=--max-requests 50",
            "      - GUNICORN_CMD_ARGS=--max-requests 100",
        ),
    ]


def test_string_command_and_env_mapping_with_four_space_indent() -> None:
    text, found = _service("string_command.yml")
    edit = rewrite_service(found, {"workers": 5, "timeout": 25}, [])  # type: ignore[arg-type]
    assert _changed_lines(text, edit.new_text) == [
        (
            "        command: gunicorn -b 0.0.0.0:8000 --workers 3 app:app",
            "        command: gunicorn -b 0.0.0.0:8000 --workers 5 app:app",
        ),
        (
            '            GUNICORN_CMD_ARGS: "--timeout 20"',
            '            GUNICORN_CMD_ARGS: "--timeout 25"',
        ),
    ]


def test_a_service_without_command_gets_one_from_the_running_container() -> None:
    text, found = _service("no_command.yml")
    edit = rewrite_service(found, {"workers": 4}, ["gunicorn", "-b", "0.0.0.0:8000", "app:app"])  # type: ignore[arg-type]
    assert text in edit.new_text.replace(
        '    command: ["gunicorn", "--workers", "4", "-b", "0.0.0.0:8000", "app:app"]\n', ""
    )


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("anchors.yml", "anchors"),
        ("interpolation.yml", "interpolation"),
        ("extends.yml", "extends"),
    ],
)
def test_what_cannot_be_rewritten_exactly_is_refused(name: str, words: str) -> None:
    _, found = _service(name)
    with pytest.raises(ComposeRefused, match=words):
        rewrite_service(found, {"workers": 4}, [])  # type: ignore[arg-type]


def test_drift_follows_gunicorn_precedence() -> None:
    found = drift(
        {"workers": 4, "timeout": 30, "threads": 1, "max_requests": 50},
        {"workers": 2},
        {"max_requests": 50, "workers": 9},
        {"timeout": 60},
    )
    assert [(d.name, d.source, d.running) for d in found] == [
        ("workers", 2, 4),
        ("timeout", 60, 30),
    ]


def test_compose_v1_paths_are_relative_to_the_working_dir() -> None:
    assert compose_paths("/srv/shop", ("docker-compose.yml", "/etc/x.yml")) == [
        "/srv/shop/docker-compose.yml",
        "/etc/x.yml",
    ]


def test_python_config_assignments() -> None:
    text = "# tuned\nbind = '0.0.0.0:8000'\nworkers = 2  # two\ntimeout = 30\n"
    new = rewrite_python_settings(text, {"workers": 4, "max_requests": 1000})
    assert new == (
        "# tuned\nbind = '0.0.0.0:8000'\nworkers = 4  # two\ntimeout = 30\nmax_requests = 1000\n"
    )
    with pytest.raises(ValueError, match="computed"):
        rewrite_python_settings("import os\nworkers = os.cpu_count() * 2\n", {"workers": 4})
    with pytest.raises(ValueError, match="2 times"):
        rewrite_python_settings("workers = 2\nworkers = 3\n", {"workers": 4})


def test_writer_rewrites_own_files_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("a: 1\n")
    path.chmod(0o640)
    replace_text(str(path), "a: 1\n", "a: 2\n")
    assert path.read_text() == "a: 2\n"
    assert (path.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docker-compose.yml"]
    with pytest.raises(FileRefused, match="changed since it was read"):
        replace_text(str(path), "a: 1\n", "a: 3\n")


def test_writer_never_follows_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.yml"
    real.write_text("a: 1\n")
    link = tmp_path / "docker-compose.yml"
    link.symlink_to(real)
    with pytest.raises(FileRefused, match="symlink"):
        read_text(str(link))
    with pytest.raises(FileRefused, match="symlink"):
        replace_text(str(link), "a: 1\n", "a: 2\n")
    assert real.read_text() == "a: 1\n"
    with pytest.raises(FileRefused, match="no such file"):
        read_text(str(tmp_path / "moved.yml"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_writer_refuses_files_of_other_users(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("a: 1\n")
    os.chown(path, 65534, 65534)
    with pytest.raises(FileRefused, match="owned by uid 65534"):
        replace_text(str(path), "a: 1\n", "a: 2\n")
    assert path.read_text() == "a: 1\n"


def test_a_file_that_is_not_yaml_is_refused_without_quoting_it(tmp_path: Path) -> None:
    secret = "root:$6$secret-hash:19000:0:99999:7:::\n\tbad: [indent"
    with pytest.raises(ComposeRefused) as refused:
        read_service(str(tmp_path / "shadow"), secret, "web")
    assert "secret-hash" not in str(refused.value) and "not a Compose file" in str(refused.value)

"""The command line on a real container whose server carries terminal
sequences in its process title (``-n``): text output shows them escaped,
JSON keeps them as they are (valid JSON), one-line errors quoting a target
name escape it too."""

from __future__ import annotations

import json

import pytest

from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags

pytestmark = pytest.mark.docker

CLIPBOARD = "\x1b]52;c;Z3R1aQ==\x07"
PROC_NAME = f"app{CLIPBOARD}"


def test_text_output_escapes_and_json_keeps_a_hostile_process_title(
    container_factory: ContainerFactory,
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-w", "1", "-n", PROC_NAME, "-b", f"127.0.0.1:{port}", "app:app"],
    )
    container_factory.wait_http(container, port)
    name = str(container.name)

    text = run_gtui("snapshot", name, "--interval", "0.2", "--statsd", "off")
    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout + text.stderr
    assert "[app\\x1b]52;c;Z3R1aQ==\\x07]" in text.stdout

    listed = run_gtui("watch", name, "--count", "1", "--interval", "0.2", "--statsd", "off")
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and name in listed.stdout

    raw = run_gtui("snapshot", name, "--json", "--interval", "0.2", "--statsd", "off")
    assert raw.returncode == 0, raw.stderr
    assert "\x1b" not in raw.stdout  # JSON writes it as \u001b...
    (instance,) = json.loads(raw.stdout)["instances"]
    assert instance["name"] == PROC_NAME  # ...and holds the text as it was
    assert instance["config"]["proc_name"]["value"] == PROC_NAME


def test_a_one_line_error_quoting_a_target_escapes_it() -> None:
    result = run_gtui("snapshot", f"no-such-{CLIPBOARD}", "--statsd", "off")
    assert result.returncode in (3, 4), result.stderr
    assert "\x1b" not in result.stderr and "\\x1b]52;c;Z3R1aQ==" in result.stderr
    assert len(result.stderr.splitlines()) == 1

"""gtui persist on a host master: the gunicorn.conf.py it reads gets the
running count; with no such file, the lines to write are printed."""

from __future__ import annotations

import json

from tests.core.monitor_waits import run_gtui
from tests.harness.local_gunicorn import LocalGunicornFactory


def test_host_master_config_file_gets_the_running_settings(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start()
    # The file a restart of this master reads (./gunicorn.conf.py where it started).
    conf = server.runtime_dir / "gunicorn.conf.py"
    conf.write_text("# the team's settings\ntimeout = 30\n")
    target = f"pid:{server.pid}"
    done = run_gtui("scale", target, "=2", "--yes", timeout_s=120)
    assert done.returncode == 0, done.stdout + done.stderr

    done = run_gtui("persist", target, "--yes", "--json", timeout_s=120)
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["kind"] == "gunicorn.conf.py" and document["written"] is True
    assert document["drift"] == [{"setting": "workers", "source": 1, "running": 2}]
    assert conf.read_text() == "# the team's settings\ntimeout = 30\nworkers = 2\n"

    again = run_gtui("persist", target, "--yes", timeout_s=120)
    assert again.returncode == 0 and "matches its source" in again.stdout, again.stdout


def test_without_a_config_file_the_lines_are_printed(local_gunicorn: LocalGunicornFactory) -> None:
    server = local_gunicorn.start()
    target = f"pid:{server.pid}"
    done = run_gtui("scale", target, "=3", "--yes", timeout_s=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_gtui("persist", target, "--yes", timeout_s=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "gtui rewrites files, never creates them" in done.stdout
    assert "workers = 3" in done.stdout
    assert not (server.runtime_dir / "gunicorn.conf.py").exists()

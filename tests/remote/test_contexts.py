"""Docker contexts as the docker CLI writes them (``docker context create``), read by gtui."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.images import tags
from tests.remote.conftest import HostB

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")


def _docker(config: Path, *words: str) -> None:
    subprocess.run(["docker", "--config", str(config), *words], check=True, capture_output=True)


def test_context_flag_and_current_context_reach_the_engine_they_name(
    host_b: HostB, factory_b: ContainerFactory, tmp_path: Path
) -> None:
    _docker(tmp_path, "context", "create", "bee", "--docker", f"host={host_b.url}")
    certs = host_b.engine.cert_dir
    tls = f"ca={certs / 'ca.pem'},cert={certs / 'cert.pem'},key={certs / 'key.pem'}"
    _docker(tmp_path, "context", "create", "bee-tls", "--docker",
            f"host={host_b.engine.tls_url},{tls}")  # fmt: skip
    container = factory_b.start(tags.GUNICORN_LATEST, ["sleep", "300"])
    env = {"DOCKER_CONFIG": str(tmp_path), "GTUI_REMOTE_GTUI": "/nonexistent/gtui"}

    done = run_gtui("ls", "--json", "--context", "bee", "--context", "bee-tls", env=env)
    assert done.returncode == 0, done.stderr
    engines = {e["name"]: e for e in json.loads(done.stdout)["engines"]}
    assert engines["bee"]["state"] == "connected" and engines["bee"]["address"] == host_b.url
    # The same engine through its TLS port: shown once.
    assert "same engine as bee" in engines["bee-tls"]["message"]

    # `docker context use` makes it the default, as for docker itself.
    _docker(tmp_path, "context", "use", "bee")
    done = run_gtui("snapshot", "--json", "--interval", "0.2", env=env)
    assert done.returncode == 0, done.stderr
    (engine,) = json.loads(done.stdout)["engines"]
    assert (engine["name"], engine["state"]) == ("bee", "connected")
    assert container.id

"""Reaching Gunicorn in bridge-network containers through their published
ports, on the real engine.

Ports are published on 127.0.0.1 only; no test addresses a container's own IP.
"""

from __future__ import annotations

import json
import time

import httpx

from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags


def _snapshot(name: str) -> dict[str, object]:
    result = run_gtui("snapshot", name, "--json")
    assert result.returncode == 0, result.stderr
    (instance,) = json.loads(result.stdout)["instances"]
    assert isinstance(instance, dict)
    return instance


def test_bridge_container_is_reached_on_its_published_port(
    container_factory: ContainerFactory,
) -> None:
    host_port = free_port()
    container = container_factory.start_bridge(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "app:app"],
        published={8000: host_port},
    )
    container_factory.wait_http(container, host_port)
    instance = _snapshot(container.name or "")
    assert instance["reach"] == {
        "url": f"http://127.0.0.1:{host_port}",
        "how": "published port",
        "detail": f"published 127.0.0.1:{host_port} -> container port 8000",
        "unix_socket": None,
        "hint": None,
        "stable_across_recreate": True,
    }
    assert instance["container"]["network_mode"] == container_factory.bridge_network()  # type: ignore[index]

    # gtui load aims at the published port: every request answered by this server.
    result = run_gtui(
        "load", (container.name or ""), "--path", "/health", "--requests", "30", "--rate", "60",
        "--json", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    text = json.dumps(summary)
    assert summary["target"] == f"http://127.0.0.1:{host_port}", text
    assert summary["completed"] == 30 and summary["errors"]["total"] == 0, text
    assert summary["status_counts"] == {"200": 30}, text


def test_unpublished_bind_is_refused_with_a_pointer_to_url(
    container_factory: ContainerFactory,
) -> None:
    other = free_port()
    container = container_factory.start_bridge(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--bind", "0.0.0.0:8000", "--bind", "0.0.0.0:9000", "app:app"],
        published={9000: other},
    )
    container_factory.wait_http(container, other)
    # Port 9000 is published, 8000 is not: the first reachable bind wins.
    assert _snapshot(container.name or "")["reach"]["url"] == f"http://127.0.0.1:{other}"  # type: ignore[index]

    lonely = container_factory.start_bridge(
        tags.GUNICORN_LATEST, ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"], published={}
    )
    # Not published, so not waited for over HTTP: wait for its master and worker.
    deadline = time.monotonic() + 30
    while len([p for p in lonely.top()["Processes"] if "gunicorn" in p[-1]]) < 2:
        assert time.monotonic() < deadline, lonely.top()
        time.sleep(0.2)
    reach = _snapshot(lonely.name or "")["reach"]
    assert reach["how"] == "refused"  # type: ignore[index]
    result = run_gtui("load", (lonely.name or ""), "--requests", "5", "--quiet")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "container port 8000 is not published" in line and "--url" in line


def test_retune_of_a_bridge_container_probes_the_published_port(
    container_factory: ContainerFactory,
) -> None:
    host_port = free_port()
    container = container_factory.start_bridge(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "1", "--timeout", "30", "app:app"],
        published={8000: host_port},
    )
    container_factory.wait_http(container, host_port)
    result = run_gtui(
        "retune", (container.name or ""), "--timeout", "40", "--yes", "--json", timeout_s=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads(result.stdout)
    text = json.dumps(plan)
    assert f"http://127.0.0.1:{host_port}/" in text, text
    assert httpx.get(f"http://127.0.0.1:{host_port}/health", timeout=10).status_code == 200

"""A re-create keeps the host ports the engine picked, and Podman's ulimit
names are written the way its create accepts (inspect-shaped data from
Docker 29 and Podman 4.3; the live roll is in test_compose_services.py)."""

from __future__ import annotations

from typing import Any

from gunicorn_tui.control.planning.container_spec import recreate_spec


def _inspect(bindings: dict[str, Any], ports: dict[str, Any], **host: Any) -> dict[str, Any]:
    return {
        "Id": "a" * 64,
        "Config": {"Hostname": "aaaaaaaaaaaa", "Image": "img"},
        "HostConfig": {"NetworkMode": "bridge", "PortBindings": bindings, **host},
        "NetworkSettings": {"Ports": ports, "Networks": {}},
    }


def _spec(inspect: dict[str, Any]) -> Any:
    return recreate_spec(inspect, entrypoint=None, cmd=["gunicorn"], env=[], image="img")


def test_engine_picked_ports_are_pinned_to_the_current_ones() -> None:
    inspect = _inspect(
        {
            "8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
            "9000/tcp": [{"HostIp": "", "HostPort": "18300-18302"}],
            "7000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "17000"}],
        },
        {
            "8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32771"}],
            "9000/tcp": [
                {"HostIp": "0.0.0.0", "HostPort": "18301"},
                {"HostIp": "::", "HostPort": "18301"},
            ],
            "7000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "17000"}],
        },
    )
    spec = _spec(inspect)
    assert spec.body["HostConfig"]["PortBindings"] == {
        "8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32771"}],
        "9000/tcp": [{"HostIp": "", "HostPort": "18301"}],
        "7000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "17000"}],
    }
    assert any("8000/tcp on 32771" in note and "9000/tcp on 18301" in note for note in spec.notes)
    # The inspect itself is left as it was (the journal keeps it).
    assert inspect["HostConfig"]["PortBindings"]["8000/tcp"][0]["HostPort"] == ""


def test_podman_ulimit_names() -> None:
    inspect = _inspect(
        {}, {}, Ulimits=[{"Name": "RLIMIT_NOFILE", "Soft": 1024, "Hard": 1024},
                         {"Name": "nproc", "Soft": 4096, "Hard": 4096}],
    )  # fmt: skip
    assert _spec(inspect).body["HostConfig"]["Ulimits"] == [
        {"Name": "nofile", "Soft": 1024, "Hard": 1024},
        {"Name": "nproc", "Soft": 4096, "Hard": 4096},
    ]

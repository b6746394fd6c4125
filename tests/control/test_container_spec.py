"""The create request for a replacement container, from an inspect (data)."""

from __future__ import annotations

from typing import Any

from gunicorn_tui.control.planning.container_spec import anonymous_volume_mounts, recreate_spec

ANON = "a" * 64


def _inspect() -> dict[str, Any]:
    return {
        "Id": "0123456789ab" + "f" * 52,
        "Image": "sha256:" + "2" * 64,
        "Config": {
            "Hostname": "0123456789ab",
            "User": "1000:1000",
            "WorkingDir": "/srv",
            "Labels": {"com.docker.compose.service": "web", "team": "a"},
            "Env": ["A=1"],
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5_000_000_000},
            "ExposedPorts": {"8000/tcp": {}},
            "Volumes": {"/data-anon": {}},
            "StopSignal": "SIGINT",
        },
        "HostConfig": {
            "NetworkMode": "front",
            "Binds": ["named-vol:/data-named"],
            "PortBindings": {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18000"}]},
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "Memory": 268435456,
            "NanoCpus": 500000000,
            "Links": ["/db:/web/database"],
        },
        "Mounts": [
            {"Type": "volume", "Name": "named-vol", "Destination": "/data-named", "RW": True},
            {"Type": "volume", "Name": ANON, "Destination": "/data-anon", "RW": True},
            {"Type": "bind", "Source": "/etc/x", "Destination": "/x", "RW": False},
        ],
        "NetworkSettings": {
            "Networks": {
                "front": {"Aliases": ["0123456789ab", "web"], "IPAMConfig": None},
                "back": {"Aliases": ["0123456789ab", "api"], "DriverOpts": {"k": "v"}},
            }
        },
    }


def test_anonymous_volumes_are_the_unnamed_ones() -> None:
    mounts = anonymous_volume_mounts(_inspect())
    assert [m["Name"] for m in mounts] == [ANON]


def test_everything_is_carried_and_anonymous_volumes_are_mounted_by_name() -> None:
    inspect = _inspect()
    spec = recreate_spec(
        inspect,
        entrypoint=None,
        cmd=["gunicorn", "-w", "4", "app"],
        env=["A=1", "B=2"],
        image="gtui-test/gunicorn:latest",
    )
    body = spec.body
    assert body["Cmd"] == ["gunicorn", "-w", "4", "app"] and body["Env"] == ["A=1", "B=2"]
    assert body["Image"] == "gtui-test/gunicorn:latest"
    for key in (
        "User",
        "WorkingDir",
        "Labels",
        "Healthcheck",
        "ExposedPorts",
        "Volumes",
        "StopSignal",
    ):
        assert body[key] == inspect["Config"][key], key
    assert "Hostname" not in body  # it was the old short id
    host = body["HostConfig"]
    assert host["Binds"] == ["named-vol:/data-named", f"{ANON}:/data-anon"]
    assert host["Links"] == ["db:database"]
    for key in ("PortBindings", "RestartPolicy", "Memory", "NanoCpus", "NetworkMode"):
        assert host[key] == inspect["HostConfig"][key], key
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"front": {"Aliases": ["web"]}}}
    assert spec.extra_networks == (("back", {"Aliases": ["api"], "DriverOpts": {"k": "v"}}),)
    assert spec.anonymous_volumes == (ANON,)
    # The inspect itself is left as it was.
    assert inspect["HostConfig"]["Binds"] == ["named-vol:/data-named"]


def test_all_networks_at_create_when_the_api_allows_it() -> None:
    spec = recreate_spec(
        _inspect(), entrypoint=None, cmd=["x"], env=[], image="i", connect_extra_networks=False
    )
    assert set(spec.body["NetworkingConfig"]["EndpointsConfig"]) == {"front", "back"}
    assert spec.extra_networks == ()


def test_host_network_drops_hostname_and_endpoints() -> None:
    inspect = _inspect()
    inspect["HostConfig"]["NetworkMode"] = "host"
    inspect["Config"]["Hostname"] = "buildbox"
    inspect["NetworkSettings"]["Networks"] = {"host": {}}
    spec = recreate_spec(inspect, entrypoint=None, cmd=["x"], env=[], image="i")
    assert "Hostname" not in spec.body and "NetworkingConfig" not in spec.body

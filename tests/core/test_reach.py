"""How this host reaches a server: the reach resolver on inspect-shaped data.

The inspects below are cut from ``docker inspect`` of real containers (Docker
29 and Podman 4.3 through its Docker-compatible API); the live tests in
``test_reach_live.py`` check the same on the real engine.
"""

from __future__ import annotations

from typing import Any

import pytest

from gunicorn_tui.discovery.container_shape import compose_of, networking_of
from gunicorn_tui.discovery.reach import Reach, ReachHow, resolve_reach
from gunicorn_tui.load.target import TargetError, target_from_reach
from gunicorn_tui.model.instances import ContainerNetworking, PublishedPort


def _inspect(mode: str, ports: dict[str, Any], bindings: dict[str, Any] | None = None) -> Any:
    return {
        "HostConfig": {"NetworkMode": mode, "PortBindings": bindings or {}},
        "NetworkSettings": {"Ports": ports},
    }


def _bridge(*published: tuple[int, str, int], fixed: bool = True) -> ContainerNetworking:
    return ContainerNetworking(
        "bridge",
        tuple(PublishedPort(inner, "tcp", ip, outer, fixed) for inner, ip, outer in published),
    )


def _container(bind: str | list[str], networking: ContainerNetworking | None) -> Reach:
    return resolve_reach(bind, in_container=True, networking=networking)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("0.0.0.0:8123", "http://127.0.0.1:8123"),
        ("[::]:8123", "http://[::1]:8123"),
        ("[::1]:8124", "http://[::1]:8124"),
        (":8125", "http://127.0.0.1:8125"),
        ("8126", "http://127.0.0.1:8126"),
        ("unix:/tmp/x.sock,0.0.0.0:8127", "http://127.0.0.1:8127"),
    ],
)
def test_host_process_is_reached_on_its_bind(bind: str, url: str) -> None:
    reach = resolve_reach(bind, in_container=False, networking=None)
    assert (reach.how, reach.url) == (ReachHow.BIND, url)
    assert reach.on_loopback


def test_host_network_container_is_reached_on_its_bind() -> None:
    reach = _container("0.0.0.0:9001", ContainerNetworking("host"))
    assert (reach.how, reach.url) == (ReachHow.BIND, "http://127.0.0.1:9001")
    assert "host network" in reach.detail


def test_bridge_container_is_reached_on_the_published_port() -> None:
    networking = networking_of(
        _inspect(
            "bridge",
            {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18120"}]},
            {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18120"}]},
        )
    )
    reach = _container("0.0.0.0:8000", networking)
    assert (reach.how, reach.url) == (ReachHow.PUBLISHED_PORT, "http://127.0.0.1:18120")
    assert reach.detail == "published 127.0.0.1:18120 -> container port 8000"
    assert reach.stable and reach.on_loopback


def test_wildcard_publishes_are_reached_on_loopback() -> None:
    # docker run -p 18121:8000 publishes on 0.0.0.0 and on ::.
    networking = networking_of(
        _inspect(
            "gtui_default",
            {
                "8000/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "18121"},
                    {"HostIp": "::", "HostPort": "18121"},
                ]
            },
            {"8000/tcp": [{"HostIp": "", "HostPort": "18121"}]},
        )
    )
    assert _container("0.0.0.0:8000", networking).url == "http://127.0.0.1:18121"
    only_v6 = _bridge((8000, "::", 18122))
    assert _container("[::]:8000", only_v6).url == "http://[::1]:18122"


def test_engine_chosen_host_port_is_not_stable() -> None:
    # -p 8000: the engine picks the host port; a re-created container gets another.
    networking = networking_of(
        _inspect(
            "bridge",
            {"8000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}]},
            {"8000/tcp": [{"HostIp": "", "HostPort": ""}]},
        )
    )
    reach = _container("0.0.0.0:8000", networking)
    assert reach.url == "http://127.0.0.1:32768"
    assert not reach.stable


def test_several_published_ports_pick_the_lowest_and_say_so() -> None:
    reach = _container(
        "0.0.0.0:8000", _bridge((8000, "127.0.0.1", 18131), (8000, "127.0.0.1", 18130))
    )
    assert reach.url == "http://127.0.0.1:18130"
    assert "also published on 18131" in reach.detail


def test_loopback_publish_wins_over_another_host_ip() -> None:
    reach = _container(
        "0.0.0.0:8000", _bridge((8000, "10.9.8.7", 18140), (8000, "127.0.0.1", 18141))
    )
    assert reach.url == "http://127.0.0.1:18141"


@pytest.mark.parametrize(
    ("bind", "networking", "words"),
    [
        ("0.0.0.0:8000", _bridge((8000, "10.9.8.7", 18150)), "published on 10.9.8.7:18150 only"),
        ("0.0.0.0:8000", _bridge(), "container port 8000 is not published"),
        (
            "0.0.0.0:8000",
            _bridge((9000, "127.0.0.1", 18151)),
            "container port 8000 is not published",
        ),
        ("127.0.0.1:8000", _bridge((8000, "127.0.0.1", 18152)), "container's own loopback"),
        ("unix:/run/app.sock", _bridge(), "Unix socket inside the container"),
        ("unix:/run/app.sock", ContainerNetworking("host"), "Unix socket inside the container"),
        ("0.0.0.0:8000", ContainerNetworking("none"), "no network"),
        ("0.0.0.0:8000", ContainerNetworking("container:" + "a" * 64), "shares another container"),
        ("fd://3", _bridge(), "file-descriptor"),
    ],
)
def test_refusals_say_why_and_point_to_url(
    bind: str, networking: ContainerNetworking, words: str
) -> None:
    reach = _container(bind, networking)
    assert reach.how is ReachHow.REFUSED and reach.url is None
    assert words in reach.detail
    assert reach.hint is not None and "--url" in reach.hint
    with pytest.raises(TargetError, match="--url"):
        target_from_reach(reach)


def test_unknown_bind_is_refused() -> None:
    reach = resolve_reach(None, in_container=False, networking=None)
    assert reach.how is ReachHow.REFUSED and "not known" in reach.detail


def test_host_unix_socket_is_used_as_a_socket() -> None:
    reach = resolve_reach("unix:/tmp/gtui-app.sock", in_container=False, networking=None)
    assert reach.how is ReachHow.UNIX_SOCKET
    target = target_from_reach(reach)
    assert target.unix_socket_path == "/tmp/gtui-app.sock"


def test_second_bind_is_tried_when_the_first_is_not_published() -> None:
    reach = _container(["127.0.0.1:9000", "0.0.0.0:8000"], _bridge((8000, "127.0.0.1", 18160)))
    assert reach.url == "http://127.0.0.1:18160"


def test_json_form() -> None:
    reach = _container("0.0.0.0:8000", _bridge((8000, "127.0.0.1", 18170)))
    assert reach.as_json() == {
        "url": "http://127.0.0.1:18170",
        "how": "published port",
        "detail": "published 127.0.0.1:18170 -> container port 8000",
        "unix_socket": None,
        "hint": None,
        "stable_across_recreate": True,
    }


def test_compose_labels() -> None:
    labels = {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.container-number": "2",
        "com.docker.compose.project.config_files": (
            "/srv/shop/docker-compose.yml,/srv/shop/override.yml"
        ),
        "com.docker.compose.project.working_dir": "/srv/shop",
    }
    compose = compose_of(labels)
    assert compose is not None
    assert compose.service_name == "shop/web" and compose.number == 2
    assert compose.config_files == ("/srv/shop/docker-compose.yml", "/srv/shop/override.yml")
    assert compose_of({"com.docker.compose.project": "shop"}) is None

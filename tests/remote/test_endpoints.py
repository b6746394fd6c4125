"""Which engines gtui watches, by the Docker CLI's rules (pure: files made here)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gunicorn_tui.access.endpoints import (
    DEFAULT_URL,
    EndpointError,
    normalise_url,
    resolve_endpoints,
)
from gunicorn_tui.monitor.targets import (
    TargetKind,
    TargetSyntaxError,
    engine_and_container,
    parse_target,
)


def _context(config_dir: Path, name: str, host: str, *, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
    )
    if tls:
        files = config_dir / "contexts" / "tls" / digest / "docker"
        files.mkdir(parents=True)
        for part in ("ca.pem", "cert.pem", "key.pem"):
            (files / part).write_text("x")


def test_no_flags_no_env_is_the_local_socket(tmp_path: Path) -> None:
    (endpoint,) = resolve_endpoints(environ={"HOME": str(tmp_path)})
    assert (endpoint.name, endpoint.url) == ("local", DEFAULT_URL)


def test_docker_host_beats_the_current_context(tmp_path: Path) -> None:
    _context(tmp_path, "far", "ssh://deploy@far.example")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "far"}))
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://10.0.0.5"}
    (endpoint,) = resolve_endpoints(environ=env)
    assert (endpoint.url, endpoint.origin) == ("tcp://10.0.0.5:2375", "DOCKER_HOST")
    (endpoint,) = resolve_endpoints(environ={"DOCKER_CONFIG": str(tmp_path)})
    assert (endpoint.name, endpoint.url) == ("far", "ssh://deploy@far.example")
    assert endpoint.ssh_destination == ("deploy", "far.example", None)


def test_docker_context_env_beats_config_json(tmp_path: Path) -> None:
    _context(tmp_path, "a", "ssh://a")
    _context(tmp_path, "b", "ssh://b:2222")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "a"}))
    (endpoint,) = resolve_endpoints(environ={"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "b"})
    assert endpoint.url == "ssh://b:2222" and endpoint.ssh_destination == (None, "b", 2222)


def test_hosts_and_contexts_repeat_in_order_and_names_stay_unique(tmp_path: Path) -> None:
    _context(tmp_path, "prod", "tcp://prod.example:2376", tls=True)
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "ssh://ignored"}
    found = resolve_endpoints(
        ["unix:///var/run/docker.sock", "ssh://web1", "ssh://root@web1:2222", "ssh://web1"],
        ["prod"],
        environ=env,
    )
    assert [(e.name, e.url) for e in found] == [
        ("local", DEFAULT_URL),
        ("web1", "ssh://web1"),
        ("web1:2222", "ssh://root@web1:2222"),
        ("prod", "tcp://prod.example:2376"),
    ]
    prod = found[-1]
    assert prod.tls is not None and prod.tls.verify
    assert prod.tls.ca_path is not None and prod.tls.ca_path.endswith("docker/ca.pem")


def test_tls_env_applies_to_tcp_hosts(tmp_path: Path) -> None:
    for part in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / part).write_text("x")
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    (endpoint,) = resolve_endpoints(["tcp://h:2376"], environ=env)
    assert endpoint.tls is not None and endpoint.tls.ca_path == str(tmp_path / "ca.pem")
    with pytest.raises(EndpointError, match=r"ca\.pem"):
        resolve_endpoints(["tcp://h:2376"], environ={**env, "DOCKER_CERT_PATH": "/nonexistent"})


@pytest.mark.parametrize(
    "text",
    ["", "host:2375", "npipe:////./pipe/docker", "ssh://", "ssh://-oProxyCommand=x", "unix://rel",
     "tcp://h:notaport", "ssh://h/path"],
)  # fmt: skip
def test_bad_hosts_say_why_in_one_line(text: str) -> None:
    with pytest.raises(EndpointError) as caught:
        normalise_url(text)
    assert "\n" not in str(caught.value)


def test_an_unknown_context_says_so(tmp_path: Path) -> None:
    with pytest.raises(EndpointError, match="no docker context named 'nope'"):
        resolve_endpoints(contexts=["nope"], environ={"DOCKER_CONFIG": str(tmp_path)})


def test_host_prefixed_targets_split_only_on_engine_names() -> None:
    names = {"local", "web1", "/run/user/1000/docker.sock"}
    assert engine_and_container("web1/api", names) == ("web1", "api")
    assert engine_and_container("api", names) == (None, "api")
    # Not an engine name: left whole (a Compose PROJECT/SERVICE is someone else's).
    assert engine_and_container("shop/api", names) == (None, "shop/api")
    assert engine_and_container("/run/user/1000/docker.sock/api", names) == (
        "/run/user/1000/docker.sock", "api")  # fmt: skip


def test_host_pid_targets_name_a_master_on_that_engines_host() -> None:
    names = ("local", "web1")
    remote = parse_target("web1/pid:42", names)
    assert (remote.kind, remote.pid, remote.host) == (TargetKind.PID, 42, "web1")
    here = parse_target("pid:42", names)
    assert (here.kind, here.pid, here.host) == (TargetKind.PID, 42, None)
    # Not an engine name: a Compose PROJECT/SERVICE, as before.
    assert parse_target("shop/pid:42", names).kind is TargetKind.SERVICE
    with pytest.raises(TargetSyntaxError, match="pid:N"):
        parse_target("web1/pid:0", names)

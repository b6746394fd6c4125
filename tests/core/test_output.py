"""Formatters and the ``gtui snapshot --json`` document, from hand-built samples."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from gunicorn_tui.discovery.docker_engine import DaemonState, DaemonStatus
from gunicorn_tui.model.instances import (
    ConfigSetting,
    ConfigSource,
    ContainerRef,
    GunicornConfig,
    InstanceSample,
    ProcessSample,
    ResourceTotals,
    SamplingMode,
    Source,
    WorkerSample,
    WorkerState,
)
from gunicorn_tui.output.snapshot_json import SCHEMA, snapshot_json
from gunicorn_tui.output.units import (
    NOT_AVAILABLE,
    format_bytes,
    format_duration,
    format_heartbeat,
    format_percent,
)
from gunicorn_tui.traffic.instance_traffic import InstanceTraffic


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, NOT_AVAILABLE),
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1.0K"),
        (1536, "1.5K"),
        (150 * 1024, "150K"),
        (int(99.94 * 1024 * 1024), "99.9M"),
        (int(99.96 * 1024), "100K"),
        (1024 * 1024 - 1, "1.0M"),
        (3 * 1024**3 // 2, "1.5G"),
        (5 * 1024**5, "5120T"),
    ],
)
def test_format_bytes(value: int | None, expected: str) -> None:
    assert format_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, NOT_AVAILABLE), (0.0, "0.0"), (12.345, "12.3"), (199.96, "200.0"), (1500.0, "1500")],
)
def test_format_percent(value: float | None, expected: str) -> None:
    assert format_percent(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, NOT_AVAILABLE),
        (-3.0, "0s"),
        (0.4, "0s"),
        (59.4, "59s"),
        # Not "60s": below a minute the figure must stay below 60.
        (59.6, "59s"),
        (60.0, "1m00s"),
        (245.0, "4m05s"),
        (3600 * 2 + 180, "2h03m"),
        (86400 * 5 + 7200, "5d02h"),
    ],
)
def test_format_duration(value: float | None, expected: str) -> None:
    assert format_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, NOT_AVAILABLE), (0.44, "0.4s"), (9.94, "9.9s"), (9.96, "10s"), (12.4, "12s")],
)
def test_format_heartbeat(value: float | None, expected: str) -> None:
    assert format_heartbeat(value) == expected


# --- snapshot JSON --------------------------------------------------------------


def _config() -> GunicornConfig:
    return GunicornConfig(
        settings={
            "workers": ConfigSetting(2, ConfigSource.CONTROL_SOCKET, ConfigSource.COMMAND_LINE),
            "worker_class": ConfigSetting("sync", ConfigSource.DEFAULT, ConfigSource.DEFAULT),
            "bind": ConfigSetting("127.0.0.1:8000", ConfigSource.ENV, ConfigSource.ENV),
            "keepalive": ConfigSetting(2, ConfigSource.CONFIG_FILE, ConfigSource.CONFIG_FILE),
        },
        config_file="/app/gunicorn.conf.py",
        warnings=("timeout is computed in the config file: 10 * 3",),
    )


def _sample() -> InstanceSample:
    master = ProcessSample(4321, 1, 0.123456, 30_000_000, 8_000_000, 12.345, uss_age_s=4.56)
    busy = WorkerSample(
        ProcessSample(4330, 7, 97.5, 40_000_000, None, 10.0, {"uss_bytes": "permission denied"}),
        heartbeat_age_s=3.14159,
        client_connections=1,
        state=WorkerState.BUSY,
    )
    fresh = WorkerSample(
        ProcessSample(4331, 8, None, 39_000_000, 3_000_000, 0.5, {"cpu_percent": "first sample"}),
        heartbeat_age_s=None,
        client_connections=None,
        state=WorkerState.UNKNOWN,
        unavailable={"heartbeat_age_s": "heartbeat file not found"},
    )
    return InstanceSample(
        key="docker:0123456789ab:1",
        source=Source.DOCKER,
        container=ContainerRef("0123456789ab" + "c" * 52, "web", "gtui-test/gunicorn:latest"),
        name="app:app",
        master=master,
        config=_config(),
        workers=(busy, fresh),
        totals=ResourceTotals(98.765, 90_000_000, None, 2.0, True),
        gunicorn_version="27.0.1",
        workers_target=3,
        mode=SamplingMode.PROCFS,
        taken_at=1_790_000_000.25,
        control_socket="/root/.gunicorn/gunicorn.ctl",
        warnings=("new master of a USR2 re-exec (old master pid 4300)",),
    )


def test_snapshot_json_shape_and_values() -> None:
    status = DaemonStatus(DaemonState.CONNECTED, "connected", 0.0, "unix:///var/run/docker.sock")
    document = snapshot_json((_sample(),), status, 1_790_000_001.0, ("web: master exited",))
    # The document survives a JSON round trip unchanged (no tuples, enums...).
    assert json.loads(json.dumps(document)) == document

    assert document["schema"] == SCHEMA
    assert datetime.fromisoformat(document["taken_at"]).timestamp() == 1_790_000_001.0
    assert document["docker"] == {
        "state": "connected",
        "message": "connected",
        "host": "unix:///var/run/docker.sock",
    }
    assert document["notices"] == ["web: master exited"]

    (instance,) = document["instances"]
    assert instance["source"] == "docker"
    assert instance["container"] == {
        "id": "0123456789ab" + "c" * 52,
        "name": "web",
        "image": "gtui-test/gunicorn:latest",
        "network_mode": None,
        "compose": None,
        "watch_only": None,
    }
    assert instance["master"] == {
        "pid": 4321,
        "ns_pid": 1,
        "cpu_percent": 0.12,
        "rss_bytes": 30_000_000,
        "uss_bytes": 8_000_000,
        "uss_age_s": 4.6,
        "age_s": 12.3,
        "unavailable": {},
    }
    # The five headline settings come first, each with where its value came from.
    assert list(instance["config"])[:5] == ["workers", "worker_class", "threads", "timeout", "bind"]
    assert instance["config"]["workers"] == {
        "value": 2,
        "source": "control socket",
        "declared_in": "command line",
    }
    assert instance["config"]["threads"] == {
        "value": None,
        "source": "unknown",
        "declared_in": "unknown",
    }
    assert instance["config"]["keepalive"]["source"] == "config file"
    assert instance["config_file"] == "/app/gunicorn.conf.py"
    assert (instance["workers_current"], instance["workers_target"]) == (2, 3)

    busy, fresh = instance["workers"]
    assert busy == {
        "pid": 4330,
        "ns_pid": 7,
        "cpu_percent": 97.5,
        "rss_bytes": 40_000_000,
        "uss_bytes": None,
        "uss_age_s": None,
        "age_s": 10.0,
        "heartbeat_age_s": 3.14,
        "client_connections": 1,
        "state": "busy",
        "unavailable": {"uss_bytes": "permission denied"},
        "traffic": None,  # no traffic given
    }
    assert instance["traffic"] is None
    # Every null figure is named with its reason.
    assert fresh["cpu_percent"] is None and fresh["heartbeat_age_s"] is None
    assert fresh["unavailable"] == {
        "cpu_percent": "first sample",
        "heartbeat_age_s": "heartbeat file not found",
    }
    assert instance["totals"]["cpu_percent"] == 98.77
    assert instance["totals"]["from_cgroup"] is True
    assert instance["warnings"] == [
        "new master of a USR2 re-exec (old master pid 4300)",
        "timeout is computed in the config file: 10 * 3",
    ]


def test_snapshot_json_of_a_host_instance_has_null_container() -> None:
    sample = _sample()
    local = InstanceSample(
        **{**sample.__dict__, "source": Source.LOCAL, "container": None, "key": "local:4321"}
    )
    status = DaemonStatus(DaemonState.DISABLED, "Docker not used", 0.0, "-")
    (instance,) = snapshot_json((local,), status, 0.0)["instances"]
    assert instance["source"] == "local"
    assert instance["container"] is None


def test_snapshot_json_traffic_block_per_instance_and_per_worker() -> None:
    """Access and error lines (as Gunicorn writes them, container pids)
    through InstanceTraffic into the JSON; workers matched by host pid."""
    sample = _sample()  # workers: host 4330 (container 7), 4331 (container 8)
    traffic = InstanceTraffic('%(h)s %(t)s "%(r)s" %(s)s %(p)s %(D)s')
    traffic.sources = ["container log stream"]
    traffic.access_log_expected = True
    traffic.set_pid_mapping({7: 4330, 8: 4331})
    at = 1_790_000_000.5
    lines = [
        '10.0.0.1 [27/Nov/2026:23:00:00 +0000] "GET /items/12 HTTP/1.1" 200 <7> 1500',
        '10.0.0.1 [27/Nov/2026:23:00:00 +0000] "GET /items/13 HTTP/1.1" 503 <7> 2500',
        '10.0.0.1 [27/Nov/2026:23:00:00 +0000] "POST /fast HTTP/1.1" 404 <8> 500',
        "[2026-11-27 23:00:00 +0000] [1] [ERROR] Worker (pid:9) was sent SIGKILL! "
        "Perhaps out of memory?",
        "not a log line",
    ]
    traffic.add_lines(lines, at)
    view = traffic.view(at + 2)
    status = DaemonStatus(DaemonState.CONNECTED, "connected", 0.0, "-")
    document = snapshot_json((sample,), status, at + 2, (), {sample.key: view})
    assert json.loads(json.dumps(document)) == document
    (instance,) = document["instances"]
    block = instance["traffic"]
    assert block["request_source"] == "access log"
    assert block["requests_total"] == 3
    assert block["status_totals"] == {"1xx": 0, "2xx": 1, "3xx": 0, "4xx": 1, "5xx": 1, "other": 0}
    ten = block["windows"]["10s"]
    assert (ten["requests"], ten["requests_per_s"]) == (3, 0.3)
    assert (ten["error_rate"], ten["client_error_rate"]) == (0.3333, 0.3333)
    assert ten["latency"]["count"] == 3 and ten["latency"]["max_ms"] == 2.5
    assert [(e["method"], e["path"], e["requests_total"]) for e in block["endpoints"]] == [
        ("GET", "/items/:id", 2),
        ("POST", "/fast", 1),
    ]
    assert block["worker_events"]["oom_suspected"] == 1
    assert block["recent_events"][0]["worker_pid"] == 9
    assert block["lines"]["unparsed"] == 1
    assert block["lines"]["recent_unparsed"] == ["not a log line"]
    assert block["sources"] == ["container log stream"]
    by_pid = {worker["pid"]: worker["traffic"] for worker in instance["workers"]}
    assert by_pid[4330]["requests_total"] == 2
    assert by_pid[4330]["busy_share_10s"] == 0.0004  # 4 ms in 10 s
    assert by_pid[4331]["requests_total"] == 1

"""What the live sweep tests share: an I/O-bound container and its load profile."""

from __future__ import annotations

from pathlib import Path

from tests.control.helpers import gunicorn_container
from tests.harness.containers import ContainerFactory
from tests.images import tags

REPO = Path(__file__).resolve().parents[2]
ACCESS = ("--access-logfile", "-", "--access-logformat",
          '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s')  # fmt: skip
IO_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 8\nduration_s = 1\nconnections = 8\n'
    '[[request]]\npath = "/io?ms=100"\n'
)


def io_container(factory: ContainerFactory, image: str = tags.GUNICORN_LATEST) -> tuple[str, int]:
    """A serving container (name, port) with an access log and no -w on the
    command line, so retunes go in place (a gtui config file and HUP)."""
    container, port = gunicorn_container(factory, image, *ACCESS)
    return container.name or "", port

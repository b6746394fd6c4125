"""RootedFiles: paths resolve inside the given root, symlinks included.

The roots here are directories under ``tmp_path`` laid out like a container
filesystem whose ``/app`` is an absolute symlink to ``/etc``: the kernel's
openat2 is exercised for real. A host path is never touched: each test
checks that a canary outside the root is unchanged.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from gunicorn_tui.host.fs_identity import as_file_user
from gunicorn_tui.host.rooted_files import RootedFiles


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("inside\n")
    os.symlink("/etc", root / "app")  # absolute: means the container's /etc
    os.symlink("../../../../../../etc/hostname", root / "escape")
    return root


def test_absolute_symlinks_resolve_inside_the_root(fake_root: Path) -> None:
    with RootedFiles(str(fake_root)) as files:
        assert files.read_bytes("/app/hostname") == b"inside\n"
        assert files.read_bytes("/escape") == b"inside\n"  # .. stops at the root
        assert sorted(files.list_dir("/app") or []) == ["hostname"]


def test_writes_through_a_symlinked_directory_stay_in_the_root(fake_root: Path) -> None:
    host_target = Path("/etc/gunicorn.conf.py")
    assert not host_target.exists()
    with RootedFiles(str(fake_root)) as files:
        files.write_new("/app/gunicorn.conf.py", b"workers = 2\n", 0o644, None)
        assert (fake_root / "etc" / "gunicorn.conf.py").read_bytes() == b"workers = 2\n"
        assert not host_target.exists()
        assert files.remove("/app/gunicorn.conf.py") is True
        assert files.remove("/app/gunicorn.conf.py") is False
    assert not host_target.exists()


def test_a_symlink_at_the_target_is_replaced_not_followed(fake_root: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("untouched")
    os.symlink(str(canary), fake_root / "etc" / "gunicorn.conf.py")
    with RootedFiles(str(fake_root)) as files:
        info = files.lstat("/etc/gunicorn.conf.py")
        assert info is not None and info.is_symlink
        files.write_new("/etc/gunicorn.conf.py", b"x = 1\n", 0o600, None)
    assert canary.read_text() == "untouched"
    written = fake_root / "etc" / "gunicorn.conf.py"
    assert not written.is_symlink() and written.read_text() == "x = 1\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_a_fifo_is_skipped_without_blocking(fake_root: Path) -> None:
    os.mkfifo(fake_root / "etc" / "pipe")
    with RootedFiles(str(fake_root)) as files:
        assert files.read_bytes("/etc/pipe") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to take another user's file identity")
def test_reads_as_another_user_get_that_users_permissions() -> None:
    # Under /tmp (world-searchable), not tmp_path (0700 parents would deny
    # every read and prove nothing).
    directory = Path(tempfile.mkdtemp(prefix="gtui-fsuid-", dir="/tmp"))
    try:
        directory.chmod(0o755)
        public = directory / "public"
        public.write_text("anyone")
        public.chmod(0o644)
        secret = directory / "secret"
        secret.write_text("root only")
        secret.chmod(0o600)
        assert as_file_user(65534, 65534, public.read_text) == "anyone"
        with pytest.raises(PermissionError):
            as_file_user(65534, 65534, secret.read_text)
        # The identity belonged to that thread only: this one still reads it.
        assert secret.read_text() == "root only"
    finally:
        shutil.rmtree(directory)

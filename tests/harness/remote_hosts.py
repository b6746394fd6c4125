"""A second "host" for tests: its own sshd and its own dockerd, on this machine.

- :class:`SshServer`: ``sshd`` on a spare 127.0.0.1 port with host keys,
  config and an authorized key made for the test (the machine's sshd and
  ~/.ssh are untouched). The client side is an ``ssh`` wrapper first on PATH
  that adds ``-F`` with the test's own client config (a host alias, the
  key, a private known_hosts), as a user's ~/.ssh/config would.
- :class:`SecondEngine`: ``dockerd`` with its own socket, data root, exec
  root, pidfile and containerd (a bridge of its own, not docker0; no
  iptables: containers use the host network), with the test images loaded.

The sshd sets ``DOCKER_HOST`` of its sessions to the second engine, so
``ssh://ALIAS`` reaches it the way ``docker -H ssh://ALIAS`` would.
Everything is stopped and removed by ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker
import psutil

from tests.harness.loopback import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _keygen(path: Path, kind: str = "ed25519") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


class SshServer:
    """sshd on 127.0.0.1:PORT for the alias ``alias``; see the module docstring."""

    def __init__(self, alias: str, environment: dict[str, str] | None = None) -> None:
        if not os.path.exists(SSHD):
            raise RuntimeError("sshd is not installed (apt-get install openssh-server)")
        self.alias = alias
        self.dir = Path(tempfile.mkdtemp(prefix="gtui-sshd-"))
        _write_owner(self.dir)
        self.port = free_port()
        self._environment = dict(environment or {})
        _keygen(self.dir / "host_key")
        _keygen(self.dir / "client_key")
        shutil.copy(self.dir / "client_key.pub", self.dir / "authorized_keys")
        host_pub = (self.dir / "host_key.pub").read_text().split()
        (self.dir / "known_hosts").write_text(
            f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n"
        )
        # Two aliases that must fail without a prompt: a host key that is not
        # the one known (as after a reinstall, or an attack), and a key the
        # server does not accept (it then offers a password).
        _keygen(self.dir / "other_host_key")
        other_pub = (self.dir / "other_host_key.pub").read_text().split()
        (self.dir / "wrong_known_hosts").write_text(
            f"[127.0.0.1]:{self.port} {other_pub[0]} {other_pub[1]}\n"
        )
        _keygen(self.dir / "stranger_key")
        self.client_config = self.dir / "ssh_config"
        self.client_config.write_text(
            self._alias(alias, "client_key", "known_hosts")
            + self._alias(f"{alias}-wrongkey", "client_key", "wrong_known_hosts")
            + self._alias(f"{alias}-nokey", "stranger_key", "known_hosts")
        )
        self.bin_dir = self.dir / "bin"
        self.bin_dir.mkdir()
        real_ssh = shutil.which("ssh") or "/usr/bin/ssh"
        wrapper = self.bin_dir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {real_ssh} -F {self.client_config} "$@"\n')
        wrapper.chmod(0o755)
        os.makedirs("/run/sshd", exist_ok=True)
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def _alias(self, alias: str, key: str, known_hosts: str) -> str:
        return (
            f"Host {alias}\n"
            f"  HostName 127.0.0.1\n  Port {self.port}\n  User root\n"
            f"  IdentityFile {self.dir / key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.dir / known_hosts}\n"
            f"  StrictHostKeyChecking yes\n  LogLevel ERROR\n"
        )

    def _argv(self) -> list[str]:
        argv = [
            SSHD, "-D", "-e", "-f", "/dev/null", "-p", str(self.port),
            "-o", "ListenAddress=127.0.0.1",
            "-o", f"HostKey={self.dir / 'host_key'}",
            "-o", f"AuthorizedKeysFile={self.dir / 'authorized_keys'}",
            "-o", "PermitRootLogin=prohibit-password",
            # Offered, so that a client without the key would be asked for one.
            "-o", "PasswordAuthentication=yes",
            "-o", "StrictModes=no",
            "-o", "UsePAM=no",
            "-o", f"PidFile={self.dir / 'sshd.pid'}",
            "-o", "MaxSessions=50",
            "-o", "MaxStartups=50",
        ]  # fmt: skip
        if self._environment:
            pairs = " ".join(f"{k}={v}" for k, v in self._environment.items())
            argv += ["-o", f"SetEnv={pairs}"]
        return argv

    def start(self) -> None:
        """Start (or restart) sshd on the same port; waits until it listens."""
        log = open(self.dir / "sshd.log", "ab")  # noqa: SIM115 (kept by the process)
        self._process = subprocess.Popen(
            self._argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.dir / 'sshd.log').read_text()[-500:]}")
            probe = subprocess.run(
                [*self.ssh_argv(), "-o", "BatchMode=yes", "true"],
                capture_output=True,
                timeout=15,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"sshd did not accept the test key: {probe.stderr!r}")

    def ssh_argv(self) -> list[str]:
        return [str(self.bin_dir / "ssh"), self.alias]

    def kill(self) -> None:
        """Kill sshd and every session it serves (its whole process group)."""
        process = self._process
        if process is None:
            return
        # Each session's sshd is a child in a session of its own (setsid).
        try:
            sessions = psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            sessions = []
        for doomed in [psutil.Process(process.pid), *sessions]:
            with contextlib.suppress(psutil.Error):
                doomed.kill()
        process.wait(timeout=10)
        psutil.wait_procs(sessions, timeout=10)
        self._process = None

    def freeze(self) -> list[psutil.Process]:
        """Stop (SIGSTOP) every session this sshd serves: their connections stay
        open and say nothing, as a host that hangs. The listener still accepts."""
        process = self._process
        frozen = []
        if process is not None:
            for session in psutil.Process(process.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    session.suspend()
                    frozen.append(session)
        return frozen

    @staticmethod
    def thaw(frozen: list[psutil.Process]) -> None:
        for session in frozen:
            with contextlib.suppress(psutil.Error):
                session.resume()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_tls_files(directory: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as
    ``docker`` expects them in DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem;
    server-cert.pem and server-key.pem for the daemon)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*words: str) -> None:
        subprocess.run(["openssl", *words], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=gtui test CA", "-keyout", "ca-key.pem", "-out", "ca.pem")  # fmt: skip
    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who, key, cert in (("server", "server-key.pem", "server-cert.pem"),
                           ("client", "key.pem", "cert.pem")):  # fmt: skip
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=gtui test {who}",
                "-keyout", key, "-out", f"{who}.csr")  # fmt: skip
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-days", "2", "-extfile", f"{who}.ext",
                "-out", cert)  # fmt: skip


_OWNER_FILE = "gtui-owner"


def unmount_under(directory: Path | str) -> None:
    """Unmount everything mounted at or below ``directory``, deepest first
    (dockerd leaves its network namespace mounted in its exec root)."""
    prefix = str(directory).rstrip("/")
    try:
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts]
    except OSError:
        return
    below = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    for point in sorted(set(below), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


_BRIDGE_FILE = "bridge"


def make_bridge(directory: Path) -> str:
    """A bridge of the second engine's own (name kept in ``directory``), with
    an address in a /24 unlikely to be used on the machine."""
    name = f"gtuib{os.getpid() % 100000}"
    subnet = 64 + os.getpid() % 128
    (directory / _BRIDGE_FILE).write_text(name)
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    for command in (
        ["ip", "link", "add", name, "type", "bridge"],
        ["ip", "addr", "add", f"10.231.{subnet}.1/24", "dev", name],
        ["ip", "link", "set", name, "up"],
    ):
        subprocess.run(command, check=True, capture_output=True)
    return name


def remove_bridge(directory: Path) -> None:
    """Delete the bridge :func:`make_bridge` made for ``directory``, if any."""
    with contextlib.suppress(OSError):
        name = (directory / _BRIDGE_FILE).read_text().strip()
        if name.startswith("gtuib"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


def _write_owner(directory: Path) -> None:
    me = psutil.Process()
    (directory / _OWNER_FILE).write_text(f"{me.pid} {me.create_time():.3f}\n")


def _owner_gone(directory: Path) -> bool:
    try:
        pid_text, started_text = (directory / _OWNER_FILE).read_text().split()
        owner = psutil.Process(int(pid_text))
        return abs(owner.create_time() - float(started_text)) > 1.0
    except (OSError, ValueError):
        return False  # no owner written: not ours to judge
    except psutil.NoSuchProcess:
        return True


def remove_leftovers() -> list[str]:
    """Stop the dockerds and sshds an earlier test session left behind (its
    process killed before its teardown ran), and remove their files."""
    removed = []
    for directory in sorted(Path("/tmp").glob("gtui-engB-*")) + sorted(
        Path(tempfile.gettempdir()).glob("gtui-sshd-*")
    ):
        if not directory.is_dir() or not _owner_gone(directory):
            continue
        for pidfile in ("docker.pid", "sshd.pid"):
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                process = psutil.Process(int((directory / pidfile).read_text().split()[0]))
                for doomed in [*process.children(recursive=True), process]:
                    with contextlib.suppress(psutil.Error):
                        doomed.kill()
        data_root = (directory / "data-root").read_text().strip() if (
            directory / "data-root").exists() else ""  # fmt: skip
        unmount_under(directory)
        remove_bridge(directory)
        if data_root.startswith("/var/lib/gtui-engB-"):
            unmount_under(data_root)
            shutil.rmtree(data_root, ignore_errors=True)
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(str(directory))
    return removed


class SecondEngine:
    """A second dockerd on this machine; see the module docstring."""

    def __init__(self, images: tuple[str, ...], source: docker.DockerClient) -> None:
        # Short: a unix socket path must fit in 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="gtui-engB-", dir="/tmp"))
        # overlay2 needs a data root on a real file system, not on /tmp's.
        self.data_root = Path(tempfile.mkdtemp(prefix="gtui-engB-", dir="/var/lib"))
        _write_owner(self.dir)
        (self.dir / "data-root").write_text(str(self.data_root))
        self.socket = self.dir / "docker.sock"
        self.url = f"unix://{self.socket}"
        # It also listens on TCP with TLS (client certificates verified).
        self.cert_dir = self.dir / "certs"
        make_tls_files(self.cert_dir)
        self.tls_port = free_port()
        self.tls_url = f"tcp://127.0.0.1:{self.tls_port}"
        self.bridge = make_bridge(self.dir)
        log = open(self.dir / "dockerd.log", "ab")  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                shutil.which("dockerd") or "/usr/sbin/dockerd",
                "--host",
                self.url,
                "--host",
                self.tls_url,
                "--tlsverify",
                "--tlscacert",
                str(self.cert_dir / "ca.pem"),
                "--tlscert",
                str(self.cert_dir / "server-cert.pem"),
                "--tlskey",
                str(self.cert_dir / "server-key.pem"),
                "--data-root",
                str(self.data_root),
                "--exec-root",
                str(self.dir / "exec"),
                "--pidfile",
                str(self.dir / "docker.pid"),
                # Its own bridge: a dockerd with --bridge=none deletes the
                # host's docker0 at start, breaking the first engine's bridge
                # containers for the rest of the session.
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        try:
            self._wait_and_load(images, source)
        except BaseException:
            self.close()
            raise

    def _wait_and_load(self, images: tuple[str, ...], source: docker.DockerClient) -> None:
        self.client = docker.DockerClient(base_url=self.url, version="1.41", timeout=120)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client.ping()
                break
            except Exception:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    text = (self.dir / "dockerd.log").read_text()[-1500:]
                    raise RuntimeError(f"second dockerd did not start: {text}") from None
                time.sleep(0.3)
        for image in images:
            data = source.images.get(image).save(named=True)
            self.client.images.load(b"".join(data))

    def close(self) -> None:
        """Stop the engine (its containers go with it) and remove its files."""
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):
                for container in client.containers.list(all=True):
                    container.remove(force=True)
            with contextlib.suppress(Exception):
                client.close()
        process = self._process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        # Its containerd (same process group) and shims.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        unmount_under(self.dir)
        unmount_under(self.data_root)
        remove_bridge(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.data_root, ignore_errors=True)

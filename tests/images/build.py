"""Build the test images on the local Docker engine, with no registry.

Usage: ``python tests/images/build.py [--rebuild]``

The base image is a Debian bookworm minbase made by debootstrap from the
mirror in this machine's apt sources and imported with ``docker import``.
Python packages are installed on the host with ``pip install --target`` (the
host runs Python 3.11, like bookworm's python3) and copied into the images.

Each image carries a label with a hash of its inputs (recipe, Dockerfile,
package list, copied files, and its parent's hash). An image whose label
matches is reused, so a second run takes seconds; the engine keeps its images
between runs. Unpinned packages (the "latest" Gunicorn) are not re-resolved
while the inputs are unchanged: pass ``--rebuild`` to pick up new releases.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, DockerException
from docker.models.images import Image

if __package__ in (None, ""):
    # Run as a script: make ``tests.images`` importable from the repository root.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.images import tags

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = Path(__file__).resolve().parent
SAMPLE_APP = REPO_ROOT / "gunicorn_tui" / "demo" / "sample_app.py"
ENTRYPOINT_SCRIPT = IMAGES_DIR / "gunicorn-entrypoint.sh"
WORK_DIR = IMAGES_DIR / ".build"

# Bump when the way images are made changes in a way the hashed inputs miss.
RECIPE_VERSION = 1

SUITE = "bookworm"
VARIANT = "minbase"
BASE_PACKAGES = ("python3", "ca-certificates", "procps", "tini")
BOOKWORM_PYTHON = (3, 11)

IMAGE_PATH_ENV = f"{tags.SITE_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GUNICORN_DEFAULT_ARGS = ("--bind", f"127.0.0.1:{tags.DEFAULT_PORT}", "app:app")
ENTRYPOINT_IN_IMAGE = "/usr/local/bin/gunicorn-entrypoint"

# gunicorn 20.1 imports pkg_resources, which recent setuptools no longer ship.
SETUPTOOLS_WITH_PKG_RESOURCES = "setuptools==69.5.1"

DEBOOTSTRAP_TIMEOUT_S = 900
PIP_TIMEOUT_S = 600


class ImageBuildFailed(Exception):
    """A step of an image build failed; the message says which and why."""


@dataclass(frozen=True)
class ImageSpec:
    """How one image on top of another is made."""

    tag: str
    parent: str
    # pip requirement specifiers installed into SITE_DIR; empty for none.
    packages: tuple[str, ...]
    # (name in the build context, file on the host) pairs the Dockerfile COPYs.
    files: tuple[tuple[str, Path], ...]
    dockerfile: str


def _python_app_dockerfile(parent: str, cmd: Sequence[str]) -> str:
    return "\n".join(
        [
            f"FROM {parent}",
            f"COPY site {tags.SITE_DIR}",
            f"ENV PYTHONPATH={tags.SITE_DIR} PATH={IMAGE_PATH_ENV}",
            f"COPY app.py {tags.APP_DIR}/app.py",
            f"WORKDIR {tags.APP_DIR}",
            f"CMD {json.dumps(list(cmd))}",
            "",
        ]
    )


def image_specs() -> tuple[ImageSpec, ...]:
    """The derived images, each after its parent."""
    app_file = (("app.py", SAMPLE_APP),)
    gunicorn_cmd = ("gunicorn", *GUNICORN_DEFAULT_ARGS)
    return (
        ImageSpec(
            tag=tags.GUNICORN_LATEST,
            parent=tags.BASE,
            packages=("gunicorn[gevent]", "setproctitle"),
            files=app_file,
            dockerfile=_python_app_dockerfile(tags.BASE, gunicorn_cmd),
        ),
        ImageSpec(
            tag=tags.GUNICORN_NO_SETPROCTITLE,
            parent=tags.BASE,
            packages=("gunicorn",),
            files=app_file,
            dockerfile=_python_app_dockerfile(tags.BASE, gunicorn_cmd),
        ),
        ImageSpec(
            tag=tags.GUNICORN_SHELL,
            parent=tags.GUNICORN_LATEST,
            packages=(),
            files=(("gunicorn-entrypoint.sh", ENTRYPOINT_SCRIPT),),
            dockerfile="\n".join(
                [
                    f"FROM {tags.GUNICORN_LATEST}",
                    f"COPY gunicorn-entrypoint.sh {ENTRYPOINT_IN_IMAGE}",
                    f"ENTRYPOINT {json.dumps([ENTRYPOINT_IN_IMAGE])}",
                    f"CMD {json.dumps(list(GUNICORN_DEFAULT_ARGS))}",
                    "",
                ]
            ),
        ),
        ImageSpec(
            tag=tags.GUNICORN_20,
            parent=tags.BASE,
            packages=("gunicorn==20.1.0", SETUPTOOLS_WITH_PKG_RESOURCES, "setproctitle"),
            files=app_file,
            dockerfile=_python_app_dockerfile(tags.BASE, gunicorn_cmd),
        ),
        ImageSpec(
            tag=tags.PLAIN,
            parent=tags.BASE,
            packages=(),
            files=(),
            dockerfile="\n".join(
                [f"FROM {tags.BASE}", f"CMD {json.dumps(['sleep', 'infinity'])}", ""]
            ),
        ),
    )


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _file_fingerprint(path: Path) -> dict[str, object]:
    return {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        # The entrypoint is COPYed with its mode, so the mode is an input too.
        "executable": os.access(path, os.X_OK),
    }


def inputs_hashes(specs: Iterable[ImageSpec] | None = None) -> dict[str, str]:
    """Map each image tag (base included) to the hash of what it is made from.

    Reads only local files: no Docker call, no network.
    """
    hashes = {
        tags.BASE: _digest(
            {
                "recipe": RECIPE_VERSION,
                "suite": SUITE,
                "variant": VARIANT,
                "packages": list(BASE_PACKAGES),
                "path": IMAGE_PATH_ENV,
            }
        )
    }
    for spec in image_specs() if specs is None else specs:
        hashes[spec.tag] = _digest(
            {
                "recipe": RECIPE_VERSION,
                "tag": spec.tag,
                "parent": hashes[spec.parent],
                "packages": list(spec.packages),
                "dockerfile": spec.dockerfile,
                "files": {name: _file_fingerprint(path) for name, path in spec.files},
            }
        )
    return hashes


def stale_images(client: docker.DockerClient) -> list[str]:
    """Tags of the test images that are missing or not built from the current inputs."""
    stale = []
    for tag, expected in inputs_hashes().items():
        if _tagged_hash(client, tag) != expected:
            stale.append(tag)
    return stale


def _tagged_hash(client: docker.DockerClient, tag: str) -> str | None:
    try:
        image = client.images.get(tag)
    except DockerException:
        return None
    labels: dict[str, str] = image.labels or {}
    return labels.get(tags.INPUTS_HASH_LABEL)


# --- the Debian mirror ------------------------------------------------------

_ONE_LINE_SOURCE = re.compile(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")
_MIRROR_SCHEMES = ("http://", "https://", "ftp://", "file:/")


def _deb822_paragraphs(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if fields:
                yield fields
            fields, key = {}, ""
            continue
        if raw[0] in " \t" and key:
            fields[key] += "\n" + raw.strip()
            continue
        key, _, value = raw.partition(":")
        key = key.strip().lower()
        fields[key] = value.strip()
    if fields:
        yield fields


def debian_mirror(sources: Iterable[tuple[str, str]], suite: str = SUITE) -> str | None:
    """The first enabled ``deb`` URI that serves ``suite``, from apt source files.

    ``sources`` holds (file name, text) pairs: ``*.sources`` files in deb822
    form, ``*.list`` files in one-line form; other names (such as
    ``*.disabled``) are ignored, as apt ignores them.
    """
    for name, text in sources:
        if name.endswith(".sources"):
            for fields in _deb822_paragraphs(text):
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                if suite not in fields.get("suites", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    if uri.startswith(_MIRROR_SCHEMES):
                        return uri
        elif name.endswith(".list"):
            for line in text.splitlines():
                match = _ONE_LINE_SOURCE.match(line.strip())
                if match and match.group(2) == suite and match.group(1).startswith(_MIRROR_SCHEMES):
                    return match.group(1)
    return None


def read_apt_sources(apt_dir: Path = Path("/etc/apt")) -> list[tuple[str, str]]:
    """(file name, text) of this machine's apt source files, in apt's order."""
    paths = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        paths.extend(sorted(parts.iterdir()))
    found = []
    for path in paths:
        try:
            found.append((path.name, path.read_text(errors="replace")))
        except OSError:
            continue
    return found


# --- host-side steps --------------------------------------------------------


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _unmount_below(root: Path) -> None:
    """Unmount anything mounted under ``root`` (a failed debootstrap leaves /proc)."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(root.resolve()) + "/"
    points = [line.split()[1] for line in mounts if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    # Never recurse into a mounted /proc or /dev of a half-made root filesystem.
    _unmount_below(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def rewrite_shebangs(bin_dir: Path, interpreter: str = "/usr/bin/python3") -> list[str]:
    """Point the scripts pip wrote into ``bin_dir`` at the image's interpreter.

    ``pip install --target`` writes the host interpreter into each script:
    either as ``#!/path/python`` or, for long paths, as a ``#!/bin/sh`` line
    followed by ``'''exec' /path/python "$0" "$@"`` and ``' '''``. Returns the
    names of the scripts it changed.
    """
    changed: list[str] = []
    if not bin_dir.is_dir():
        return changed
    for path in sorted(bin_dir.iterdir()):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if not data.startswith(b"#!"):
            continue
        first, _, rest = data.partition(b"\n")
        if rest.startswith(b"'''exec' "):
            body = rest.split(b"\n", 2)[2] if rest.count(b"\n") >= 2 else b""
        elif b"python" in first:
            body = rest
        else:
            continue
        new = f"#!{interpreter}\n".encode() + body
        if new != data:
            path.write_bytes(new)
            changed.append(path.name)
    return changed


def _check_host_python() -> None:
    if sys.version_info[:2] != BOOKWORM_PYTHON:
        wanted = ".".join(map(str, BOOKWORM_PYTHON))
        raise ImageBuildFailed(
            f"host Python is {sys.version_info.major}.{sys.version_info.minor}; the images "
            f"need packages built for Python {wanted} (bookworm's python3): run this "
            f"script with Python {wanted}"
        )


def install_packages(packages: Sequence[str], target: Path) -> None:
    """``pip install --target`` on the host, then fix the scripts' shebangs."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--target",
        str(target),
        *packages,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise ImageBuildFailed(
            f"pip install {' '.join(packages)} took over {PIP_TIMEOUT_S} s"
        ) from error
    if done.returncode != 0:
        raise ImageBuildFailed(
            f"pip install {' '.join(packages)} failed:\n{_tail(done.stdout + done.stderr)}"
        )
    rewrite_shebangs(target / "bin")


def _make_rootfs(rootfs: Path, mirror: str, log_path: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageBuildFailed("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ImageBuildFailed("debootstrap needs root to make the base image")
    command = [
        "debootstrap",
        f"--variant={VARIANT}",
        f"--include={','.join(BASE_PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    with log_path.open("w") as log:
        try:
            done = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, timeout=DEBOOTSTRAP_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as error:
            raise ImageBuildFailed(
                f"debootstrap took over {DEBOOTSTRAP_TIMEOUT_S} s; log: {log_path}"
            ) from error
    if done.returncode != 0:
        raise ImageBuildFailed(
            f"debootstrap failed (exit {done.returncode}), log {log_path}:\n"
            f"{_tail(log_path.read_text(errors='replace'))}"
        )
    # Downloaded .debs and package lists only make the image bigger.
    for leftover in [
        *(rootfs / "var/cache/apt/archives").glob("*.deb"),
        *(rootfs / "var/lib/apt/lists").glob("*_*"),
    ]:
        leftover.unlink(missing_ok=True)


def _label_instruction(labels: dict[str, str]) -> str:
    return "LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in labels.items())


def _split_tag(tag: str) -> tuple[str, str]:
    repository, _, name = tag.rpartition(":")
    return repository, name


def _labels_for(tag: str, inputs_hash: str) -> dict[str, str]:
    return {tags.IMAGE_LABEL: tag, tags.INPUTS_HASH_LABEL: inputs_hash}


def build_base(client: docker.DockerClient, inputs_hash: str, work: Path) -> None:
    """debootstrap a bookworm minbase and ``docker import`` it as the base image."""
    mirror = debian_mirror(read_apt_sources())
    if mirror is None:
        raise ImageBuildFailed(
            f"no Debian mirror serving {SUITE} in /etc/apt/sources.list or "
            "/etc/apt/sources.list.d/: cannot debootstrap the base image"
        )
    print(f"  debootstrap {SUITE} from {mirror} (about a minute)", flush=True)
    rootfs = work / "rootfs"
    tarball = work / "rootfs.tar"
    _remove_tree(rootfs)
    try:
        _make_rootfs(rootfs, mirror, work / "debootstrap.log")
        done = subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise ImageBuildFailed(f"tar of the root filesystem failed:\n{_tail(done.stderr)}")
        repository, name = _split_tag(tags.BASE)
        client.api.import_image(
            src=str(tarball),
            repository=repository,
            tag=name,
            changes=[
                _label_instruction(_labels_for(tags.BASE, inputs_hash)),
                f"ENV PATH={IMAGE_PATH_ENV} LANG=C.UTF-8",
                'CMD ["/bin/bash"]',
            ],
        )
    finally:
        _remove_tree(rootfs)
        _remove_tree(tarball)


def build_derived(
    client: docker.DockerClient, spec: ImageSpec, inputs_hash: str, work: Path
) -> None:
    """Install the spec's packages on the host and ``docker build`` the image."""
    context = work / ("context-" + re.sub(r"[^A-Za-z0-9]+", "-", spec.tag))
    _remove_tree(context)
    context.mkdir(parents=True)
    try:
        (context / "Dockerfile").write_text(spec.dockerfile)
        for name, source in spec.files:
            shutil.copy2(source, context / name)
        if spec.packages:
            print(f"  pip install --target: {' '.join(spec.packages)}", flush=True)
            install_packages(spec.packages, context / "site")
        try:
            client.images.build(
                path=str(context),
                tag=spec.tag,
                labels=_labels_for(spec.tag, inputs_hash),
                rm=True,
                forcerm=True,
                pull=False,
            )
        except BuildError as error:
            log = "".join(
                str(entry.get("stream", entry.get("error", ""))) for entry in error.build_log
            )
            raise ImageBuildFailed(
                f"docker build of {spec.tag} failed: {error.msg}\n{_tail(log)}"
            ) from error
    finally:
        _remove_tree(context)


def _find_built(client: docker.DockerClient, tag: str, inputs_hash: str) -> Image | None:
    images: list[Image] = client.images.list(
        filters={"label": [f"{tags.INPUTS_HASH_LABEL}={inputs_hash}", f"{tags.IMAGE_LABEL}={tag}"]}
    )
    # After --rebuild an older image with the same label may linger untagged.
    images.sort(key=lambda image: tag in image.tags, reverse=True)
    return images[0] if images else None


@contextmanager
def _build_lock() -> Iterator[None]:
    # The engine is shared by every checkout on this machine: build one at a time.
    path = Path(tempfile.gettempdir()) / "gtui-test-images.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another test image build on this machine ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_images(client: docker.DockerClient, *, rebuild: bool = False) -> tuple[int, int]:
    """Build every test image whose inputs changed; returns (built, reused)."""
    _check_host_python()
    hashes = inputs_hashes()
    specs = {spec.tag: spec for spec in image_specs()}
    built = reused = 0
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for tag, inputs_hash in hashes.items():
        existing = None if rebuild else _find_built(client, tag, inputs_hash)
        if existing is not None:
            if tag not in existing.tags:
                existing.tag(*_split_tag(tag))
            print(f"reuse {tag} ({existing.short_id}, inputs {inputs_hash[:12]})", flush=True)
            reused += 1
            continue
        print(f"build {tag} (inputs {inputs_hash[:12]})", flush=True)
        started = time.monotonic()
        if tag == tags.BASE:
            build_base(client, inputs_hash, WORK_DIR)
        else:
            build_derived(client, specs[tag], inputs_hash, WORK_DIR)
        print(f"built {tag} in {time.monotonic() - started:.1f} s", flush=True)
        built += 1
    if built:
        _prune_replaced_images(client)
    return built, reused


def _prune_replaced_images(client: docker.DockerClient) -> None:
    # Images replaced by a rebuild lose their tag. The engine's prune keeps
    # any that a container (someone else's test, say) still uses.
    result = client.images.prune(filters={"dangling": True, "label": tags.IMAGE_LABEL})
    count = len(result.get("ImagesDeleted") or [])
    if count:
        reclaimed_mb = (result.get("SpaceReclaimed") or 0) / 1e6
        print(f"pruned {count} replaced image layers ({reclaimed_mb:.0f} MB)", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="build every image again, ignoring the cache (picks up new package releases)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        print(f"error: the Docker engine is unreachable: {error}", file=sys.stderr)
        return 1
    try:
        with _build_lock():
            built, reused = ensure_images(client, rebuild=args.rebuild)
    except ImageBuildFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (APIError, DockerException) as error:
        print(f"error: Docker refused a build step: {error}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print(
        f"test images ready in {time.monotonic() - started:.1f} s (built {built}, reused {reused})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

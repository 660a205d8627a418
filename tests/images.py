"""Local test images, built without a registry (Docker Hub is not reachable from CI).

``ensure_busybox_image()`` imports a tiny root filesystem made from the host's static
busybox (Debian package ``busybox-static``) as a Docker image. It is idempotent, and safe
when several pytest-xdist workers call it at once: a file lock serialises the builders,
and an image whose ``berth.test-image`` label matches this module's recipe is reused.

    >>> ensure_busybox_image()  # doctest: +SKIP
    'berth-test/busybox:latest'
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

# Applets the tests (and people poking at a test container) rely on; every other applet
# busybox knows is linked too, these must be among them.
REQUIRED_APPLETS = (
    "sh", "httpd", "echo", "sleep", "cat", "ls", "head", "tail", "tr", "wc", "env",
    "kill", "ps", "true", "false", "mkdir", "dd", "id", "printf", "test",
)  # fmt: skip

_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"
_RECIPE_VERSION = "2"  # bump when the rootfs layout below changes
_LABEL = "berth.test-image"


class ImageBuildError(RuntimeError):
    """The test image cannot be built on this host (the message says what to install)."""


def ensure_busybox_image(tag: str = "berth-test/busybox:latest") -> str:
    """Make sure ``tag`` names the busybox test image, building it if needed; return ``tag``."""
    if not BUSYBOX.is_file():
        raise ImageBuildError(
            f"{BUSYBOX} is missing: install Debian's busybox-static "
            "(apt-get install -y busybox-static) to build the test image"
        )
    applets = _applets()
    missing = [a for a in REQUIRED_APPLETS if a not in applets]
    if missing:
        raise ImageBuildError(f"{BUSYBOX} lacks applets the tests need: {', '.join(missing)}")
    recipe = _recipe_id(applets)
    if _image_recipe(tag) == recipe:
        return tag
    lock_path = Path(tempfile.gettempdir()) / "berth-test-images.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            # Another worker may have built it while we waited for the lock.
            if _image_recipe(tag) != recipe:
                _build(tag, applets, recipe)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return tag


def _applets() -> list[str]:
    out = subprocess.run(
        [str(BUSYBOX), "--list"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


def _recipe_id(applets: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(_RECIPE_VERSION.encode())
    digest.update(BUSYBOX.read_bytes())
    digest.update("\n".join(applets).encode())
    return digest.hexdigest()[:16]


def _image_recipe(tag: str) -> str | None:
    """The recipe label of the local image ``tag``, or None if there is no such image."""
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{_LABEL}"}}}}', tag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def _rootfs_tar(applets: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "etc", "root", "proc", "sys", "dev", "var", "var/www", "mnt", "usr"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in applets:
            if applet == "busybox" or "/" in applet:
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            link.mode = 0o777
            tar.addfile(link)
        add_file("etc/passwd", _PASSWD.encode())
        add_file("etc/group", _GROUP.encode())
        add_file("var/www/index.html", b"berth test image\n")
    return buf.getvalue()


def _build(tag: str, applets: list[str], recipe: str) -> None:
    changes = [
        f"LABEL {_LABEL}={recipe}",
        "ENV PATH=/bin",
        'CMD ["/bin/sh"]',
    ]
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    argv += ["-", tag]
    proc = subprocess.run(
        argv, input=_rootfs_tar(applets), capture_output=True, timeout=300, env=os.environ.copy()
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace")
        raise ImageBuildError(f"docker import of the busybox test image failed: {detail}")


# --------------------------------------------------------------------------- python:3

_PYTHON_RECIPE = "bookworm-python3-1"


def ensure_python_image(tag: str = "python:3") -> str:
    """A local ``python:3`` image (Debian bookworm with python3) for tests that run
    Marathon's canonical examples unchanged. Built with mmdebstrap from Debian's
    packages, then ``docker import``; reused while its recipe label matches."""
    if _image_recipe(tag) == _PYTHON_RECIPE:
        return tag
    lock_path = Path(tempfile.gettempdir()) / "berth-test-images.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _image_recipe(tag) != _PYTHON_RECIPE:
                _build_python(tag)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return tag


def _build_python(tag: str) -> None:
    if subprocess.run(["which", "mmdebstrap"], capture_output=True).returncode != 0:
        raise ImageBuildError("mmdebstrap is missing: apt-get install -y mmdebstrap")
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        build = subprocess.run(
            [
                "mmdebstrap",
                "--quiet",
                "--variant=essential",
                "--include=python3-minimal,python3",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "bookworm",
                str(rootfs),
            ],
            capture_output=True,
            timeout=900,
        )
        if build.returncode != 0:
            detail = build.stderr.decode(errors="replace")[-2000:]
            raise ImageBuildError(f"mmdebstrap failed to build the python image: {detail}")
        imported = subprocess.run(
            [
                "docker",
                "import",
                "--change",
                f"LABEL {_LABEL}={_PYTHON_RECIPE}",
                "--change",
                'CMD ["python3"]',
                str(rootfs),
                tag,
            ],
            capture_output=True,
            timeout=300,
        )
        if imported.returncode != 0:
            detail = imported.stderr.decode(errors="replace")
            raise ImageBuildError(f"docker import of the python image failed: {detail}")

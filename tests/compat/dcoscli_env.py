"""The real DC/OS CLI (``dcoscli`` 0.6.1) in a throwaway virtual environment.

A plain ``pip install dcoscli==0.6.1`` no longer works on Python 3.11 (old pins that do
not build; reference dcos.md, last section), so the two packages are installed without
their dependencies, the runtime needs are installed by hand, and a ``.pth`` file puts
back the ``collections`` ABC aliases that Python 3.10 removed and the CLI still imports.

The environment is built once and shared by every pytest-xdist worker of a run (a file
lock serialises the build; a marker file says it is complete). ``uv`` does the installs
(its cache makes a rebuild take seconds); the venv's own pip is the fallback.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DCOSCLI_VERSION = "0.6.1"
PACKAGES = [f"dcoscli=={DCOSCLI_VERSION}", f"dcos=={DCOSCLI_VERSION}"]
RUNTIME_NEEDS = [
    "setuptools<70",  # pkg_resources
    "docopt",
    "toml<1",
    "requests",
    "six",
    "jsonschema<3",
    "pager",
    "prettytable<1",
    "PyJWT==1.4.2",
    "pygments",
    "sseclient==0.0.19",
    "retrying==1.3.3",
    "pkginfo",
    "cryptography",
]

_SHIM = """\
# Python 3.10 removed the ABC aliases from `collections`; dcoscli 0.6.1 still uses them.
import collections
import collections.abc

for _name in collections.abc.__all__:
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))
"""

_READY = ".berth-dcoscli-ready"


def _python311() -> str:
    """A Python 3.11 to build the environment with (the one running the tests is 3.11
    too, as the project requires)."""
    return shutil.which("python3.11") or sys.executable


def _install(python: Path, *args: str) -> None:
    uv = shutil.which("uv")
    if uv is not None:
        argv = [uv, "pip", "install", "--quiet", "--python", str(python), *args]
    else:
        argv = [str(python), "-m", "pip", "install", "--quiet", *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=600)


def ensure_dcoscli(cache: Path) -> Path:
    """The ``dcos`` executable of a ready environment under ``cache`` (built if needed).

    >>> ensure_dcoscli(Path("/tmp/cache"))  # doctest: +SKIP
    PosixPath('/tmp/cache/dcoscli-0.6.1/bin/dcos')
    """
    venv = cache / f"dcoscli-{DCOSCLI_VERSION}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"dcoscli-{DCOSCLI_VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / _READY).exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run(
                [_python311(), "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                timeout=300,
            )
            python = venv / "bin" / "python"
            _install(python, "--no-deps", *PACKAGES)
            _install(python, *RUNTIME_NEEDS)
            site = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            Path(site, "_berth_collections_shim.py").write_text(_SHIM)
            Path(site, "berth_collections_shim.pth").write_text("import _berth_collections_shim\n")
            (venv / _READY).touch()
    return venv / "bin" / "dcos"


@dataclass
class DcosCli:
    """Runs the ``dcos`` command with its own configuration folder, stdin from /dev/null."""

    executable: Path
    config_dir: Path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("DCOS_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")
        }
        env.update(
            DCOS_DIR=str(self.config_dir),
            PYTHONWARNINGS="ignore",  # the CLI's own SyntaxWarnings on 3.11
            HOME=str(self.config_dir.parent),
            PAGER="cat",
        )
        return subprocess.run(
            [str(self.executable), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    def ok(self, *args: str, timeout: float = 60) -> str:
        """Run and insist on exit status 0; the output (stdout)."""
        done = self.run(*args, timeout=timeout)
        assert done.returncode == 0, (
            f"dcos {' '.join(args)} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
        return done.stdout

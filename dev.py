#!/usr/bin/env python3
"""Bootstrap and run, with nothing but Python 3.11: ``python3.11 dev.py demo`` / ``python3.11 dev.py test``.

Creates ``.venv`` on first use, installs the pinned requirements and this project in editable mode
(so locustfiles import ``load_tests`` from anywhere, and ``loadtest`` is on the venv's PATH), and
reinstalls only when a requirements file or ``pyproject.toml`` changes. Then runs:

- ``demo [FLAGS]``: the smoke scenario of every protocol against the bundled target (report written);
  extra flags go to ``run_load_tests.py`` (e.g. ``--scenario baseline --test-type rest``);
- ``test [PYTEST ARGS]``: the test suite (pytest's "no tests ran", exit 5, counts as a failure);
  ``test --fast`` runs the unit tier only (``-m "not e2e"``, under a minute);
- ``lint``: ruff and mypy (the pure core and the reports);  ``target [FLAGS]``: the reference target alone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _requirements_digest(files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def ensure_venv(dev: bool) -> None:
    """Create .venv and install requirements (and dev tools) unless already installed at this version."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by any python3
        sys.exit(f"error: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    files = ["requirements.txt"] + (["requirements-dev.txt"] if dev else [])
    stamp = VENV / f".installed-{'dev' if dev else 'runtime'}-{_requirements_digest([*files, 'pyproject.toml'])}"
    if stamp.exists():
        return
    if not PYTHON.exists():
        print(f"Creating {VENV.name} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    print(f"Installing {' and '.join(files)} into {VENV.name} ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(ROOT / files[-1])], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(ROOT)], check=True)
    for old in VENV.glob(f".installed-{'dev' if dev else 'runtime'}-*"):
        old.unlink()
    stamp.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test", "lint", "target"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv(dev=command in ("test", "lint"))
    os.chdir(ROOT)
    if command == "demo":
        return subprocess.call([str(PYTHON), "run_load_tests.py", "--scenario", "smoke", "--test-type", "all", *rest])
    if command == "target":
        return subprocess.call([str(PYTHON), "-m", "load_tests.reference_service", *rest])
    if command == "lint":
        return subprocess.call([str(BIN / "ruff"), "check", ".", *rest]) or subprocess.call([str(PYTHON), "-m", "mypy"])
    if "--fast" in rest:
        rest = ["-m", "not e2e", *(a for a in rest if a != "--fast")]
    code = subprocess.call([str(PYTHON), "-m", "pytest", *rest])
    if code == 5:
        print("error: pytest collected no tests", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

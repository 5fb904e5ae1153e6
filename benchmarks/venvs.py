"""Set-up: one virtualenv per peer under ``benchmarks/.venvs/``, from pinned requirement files.

Peers whose dependency pins clash with s3saver's (boto3 >= 1.43 against aioboto3's botocore 1.40)
cannot share the project's environment, so each peer in ``benchmarks/peers/<name>/requirements.txt``
gets its own venv. A venv is rebuilt only when its requirement file changes (a hash stamp).
``python -m benchmarks.venvs`` builds them all; ``python -m benchmarks`` calls this first.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / "peers"
VENVS_DIR = HERE / ".venvs"
MAIN_REQUIREMENTS = HERE / "requirements.txt"


def peer_names() -> list[str]:
    return sorted(p.name for p in PEERS_DIR.iterdir() if (p / "requirements.txt").is_file())


def venv_python(name: str) -> Path:
    return VENVS_DIR / name / "bin" / "python"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pip(python: Path | str, *args: str, log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(
            [str(python), "-m", "pip", "--disable-pip-version-check", *args],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def ensure_peer(name: str, *, verbose: bool = True) -> Path:
    """Create or refresh the venv of one peer; return its python."""
    req = PEERS_DIR / name / "requirements.txt"
    target = VENVS_DIR / name
    stamp = target / ".requirements.sha256"
    python = venv_python(name)
    want = _digest(req)
    if python.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return python
    if verbose:
        print(f"[setup] building venv for {name} (log: {target}/install.log)", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    log = target / "install.log"
    try:
        _pip(python, "install", "-q", "-r", str(req), log=log)
    except subprocess.CalledProcessError:
        sys.stderr.write(log.read_text()[-4000:])
        raise
    stamp.write_text(want + "\n")
    return python


def ensure_main(*, verbose: bool = True) -> None:
    """Install the benchmark's own extras (the plot) into the running interpreter if missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if verbose:
            print("[setup] installing benchmarks/requirements.txt (matplotlib)", flush=True)
        VENVS_DIR.mkdir(parents=True, exist_ok=True)
        _pip(
            sys.executable,
            "install",
            "-q",
            "-r",
            str(MAIN_REQUIREMENTS),
            log=VENVS_DIR / "main.log",
        )


def ensure_all(*, verbose: bool = True) -> dict[str, Path]:
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    ensure_main(verbose=verbose)
    return {name: ensure_peer(name, verbose=verbose) for name in peer_names()}


if __name__ == "__main__":
    for peer, py in ensure_all().items():
        print(f"{peer}: {py}")

"""The S3 test bed: a real S3 HTTP endpoint for every test.

By default a moto server is started as a subprocess on 127.0.0.1 (a subprocess rather than
moto's in-thread server so the server does not share the test process's GIL). Set
``S3SAVER_TEST_ENDPOINT`` (plus the usual ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``) to run
the same suite against any other S3 implementation.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest

STRICT_ENV = "S3SAVER_STRICT_SKIPS"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def skip_or_fail(reason: str) -> None:
    """Skip for a missing tool, unless CI asked for every test to really run."""
    if os.environ.get(STRICT_ENV):
        pytest.fail(f"{reason} (and {STRICT_ENV} is set, so this cannot be skipped)")
    pytest.skip(reason)


@dataclass
class Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str
    is_moto: bool

    def client_env(self) -> dict[str, str]:
        """Environment for a child process that should talk to this endpoint."""
        return {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


class MotoProcess:
    """A moto server in its own process, bound to loopback on a free port."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        child_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=child_env,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

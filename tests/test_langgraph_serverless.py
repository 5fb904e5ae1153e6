"""Saver created at import, ``asyncio.run(handler(event))`` per invocation: every one works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

pytest.importorskip("langgraph.graph")

from tests.s3env import Endpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_every_invocation_resumes_the_thread(endpoint: Endpoint, bucket: str, kind: str) -> None:
    thread = f"lambda-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.apps.lambda_app",
            kind,
            bucket,
            "fn",
            thread,
            "4",
        ],
        cwd=ROOT,
        env={**os.environ, **endpoint.client_env()},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    # Invocation n sees the n - 1 turns of the earlier invocations: state survived each loop.
    assert results == [{"turns": list(range(1, n + 1))} for n in range(1, 5)]
    assert "Event loop is closed" not in proc.stderr
    # One client for the container's life, closed at exit: nothing left dangling per loop.
    assert "Unclosed" not in proc.stderr, proc.stderr[-2000:]

"""`s3saver demo`, the README's first command: the main job end to end, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.s3env import Endpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = [
    "saved step 5",
    "resumed at step 5 with 5 messages",
    "history, newest first: steps [5, 4, 3, 2, 1]",
    "the oldest, fetched by id alone: step 1",
    "pruned 3 old checkpoints; kept steps [5, 4]",
    "deleted the thread: newest checkpoint is now None",
    "demo finished",
]


def _run(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "s3saver", "demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_demo_runs_on_an_embedded_s3_when_none_is_configured() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "S3SAVER_TEST_ENDPOINT"
    }
    out = _run(env)
    assert "started an embedded moto S3 at http://127.0.0.1:" in out
    for step in STEPS:
        assert step in out, out


def test_demo_uses_the_configured_endpoint(endpoint: Endpoint, bucket: str) -> None:
    env = {**os.environ, **endpoint.client_env()}
    out = _run(env, "--url", f"s3://{bucket}/demo")
    assert "embedded" not in out
    assert f"s3://{bucket}/demo (endpoint {endpoint.url})" in out
    for step in STEPS:
        assert step in out, out

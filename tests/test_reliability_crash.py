"""Crash consistency (issue 6): a writer process is SIGKILLed at random points during put,
put_writes, prune and delete_thread; a fresh process then reads every thread, and ``verify``
reports only what ``repair`` fixes.

Each round starts ``tests/apps/crash_worker.py``, which first reads what the previous (killed)
writer left, verifies, repairs, redoes the interrupted operation and then writes until it is
killed: by the test at a random moment, or by itself just before its N-th request is sent or
just after the answer to its N-th request arrived (committed, not acted on). The test keeps the
model (``MemoryCheckpointSaver``) of every acknowledged operation and checks, round by round:

* the fresh reader sees the model with the interrupted operation either not applied or
  applied (``put``, ``put_writes``), or partly applied (``prune``, ``delete_thread``: some of
  what it removes is gone, nothing it keeps is); nothing acknowledged is missing;
* every problem ``verify`` reports is of a repairable kind, ``repair`` leaves none, and then
  every listed checkpoint is reachable by id.

Needs only an S3 endpoint the child process can reach (moto or any other).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from s3saver import MemoryCheckpointSaver
from s3saver.integrity import REPAIRABLE
from tests import reliability
from tests.apps.crash_worker import apply_op, observe_all
from tests.helpers import unique_prefix
from tests.s3env import Endpoint

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("S3SAVER_CRASH_ROUNDS", "6"))
OPS = 20
POINTS = ["send", "received", "external"]


@pytest.fixture
def tally(pytestconfig: pytest.Config) -> reliability.Tally:
    return reliability.tally(pytestconfig)


async def run_worker(
    endpoint: Endpoint, cfg: dict[str, Any], kill_after_s: float | None
) -> tuple[list[dict[str, Any]], int]:
    env = {**os.environ, **endpoint.client_env(), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.apps.crash_worker",
        json.dumps(cfg),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    events: list[dict[str, Any]] = []
    killer: asyncio.TimerHandle | None = None

    async def read_events() -> None:
        nonlocal killer
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            event = json.loads(line)
            events.append(event)
            if event["event"] == "go" and kill_after_s is not None:
                killer = asyncio.get_running_loop().call_later(kill_after_s, proc.kill)

    async def read_all() -> tuple[bytes, int]:
        assert proc.stderr is not None
        _, stderr = await asyncio.gather(read_events(), proc.stderr.read())  # no pipe fills up
        return stderr, await proc.wait()

    try:
        stderr, rc = await asyncio.wait_for(read_all(), 120)  # Python 3.10: no asyncio.timeout
    finally:
        if killer is not None:
            killer.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if rc not in (0, -signal.SIGKILL):
        raise AssertionError(f"worker failed ({rc}): {stderr.decode()[-3000:]}")
    return events, rc


def partial_delete(actual: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Each listing: in order, a sub-list of ``before`` holding everything ``after`` holds."""
    for key, now in actual.items():
        had = {e["id"]: e for e in before[key]}
        ids_now = [e["id"] for e in now]
        if ids_now != [e["id"] for e in before[key] if e["id"] in set(ids_now)]:
            return False
        if not {e["id"] for e in after[key]} <= set(ids_now):
            return False
        if any(e != had[e["id"]] for e in now):
            return False
    return True


async def test_killed_writers_leave_only_what_repair_fixes(
    endpoint: Endpoint, bucket: str, tally: reliability.Tally
) -> None:
    prefix = unique_prefix("crash")
    rng = random.Random(2026)
    model = MemoryCheckpointSaver()
    in_flight: dict[str, Any] | None = None
    killed = 0
    for rnd in range(ROUNDS + 1):
        last = rnd == ROUNDS
        point = POINTS[rnd % len(POINTS)]
        cfg: dict[str, Any] = {
            "bucket": bucket,
            "prefix": prefix,
            "seed": rnd + 1,
            "ops": 0 if last else OPS,
            "redo": in_flight,
        }
        kill_after = None
        if not last:
            if point == "external":
                kill_after = rng.uniform(0.01, 0.3)
            else:
                cfg["kill_at"] = rng.randint(1, OPS * 2)
                cfg["kill_phase"] = point
        events, rc = await run_worker(endpoint, cfg, kill_after)

        # --- what the fresh process found, against the model
        state = next(e for e in events if e["event"] == "state")
        before = await observe_all(model)
        if in_flight is None:
            assert state["lists"] == before, f"round {rnd}: not what was acknowledged"
            after = before
        else:
            after_model = copy.deepcopy(model)
            await apply_op(after_model, in_flight)
            after = await observe_all(after_model)
            if in_flight["kind"] in ("prune", "delete"):
                ok = partial_delete(state["lists"], before, after)
            else:
                ok = state["lists"] in (before, after)
            if not ok:
                tally.lost += sum(
                    1
                    for key, entries in before.items()
                    for e in entries
                    if e["id"] not in {x["id"] for x in state["lists"][key]}
                    and any(e["id"] == x["id"] for x in after[key])
                )
            assert ok, (f"round {rnd}: killed in {in_flight}", state["lists"], before, after)
            model = after_model  # the worker redid it
        for kind, key in state["problems"]:
            tally.problems_found[kind] += 1
            assert kind in REPAIRABLE, f"round {rnd}: verify found {kind} at {key}"
        repaired = next(e for e in events if e["event"] == "repaired")
        tally.problems_left += len(repaired["left"])
        assert repaired["left"] == [], f"round {rnd}: repair left {repaired['left']}"
        assert repaired["unreachable"] == [], f"round {rnd}: not reachable by id after repair"

        # --- what this writer did before it died
        in_flight = None
        for e in events:
            if e["event"] == "begin":
                in_flight = e["op"]
            elif e["event"] == "ack":
                assert in_flight is not None
                await apply_op(model, in_flight)
                tally.op(in_flight["kind"], ok=True)
                in_flight = None
        if in_flight is not None:
            tally.operations[in_flight["kind"]] += 1  # interrupted: neither acked nor raised
        if rc == -signal.SIGKILL:
            killed += 1
            if in_flight is not None:
                where = f"during {in_flight['kind']}"
            elif any(e["event"] == "done" for e in events):
                where = "after its last operation"
            else:
                where = "between operations"
            tally.kills[f"{point} {where}"] += 1
        else:
            assert any(e["event"] == "done" for e in events)
            in_flight = None
    assert killed >= ROUNDS * 2 // 3, f"only {killed} of {ROUNDS} writers were killed"
    tally.checks["crash rounds"] += ROUNDS

"""A writer process for the crash-consistency test (tests/test_reliability_crash.py).

    python -m tests.apps.crash_worker '<json config>'

On start it is the *fresh process* of the previous round: it reads every thread and namespace,
runs ``verify``, then ``repair``, checks every listed checkpoint is reachable by id, and prints
all that. It then redoes the operation the previous writer was killed in (as an agent that
resumes would), and runs a seeded random sequence of put / put_writes / prune / delete_thread,
printing ``begin`` before and ``ack`` after each. It may be killed at any point: by the test
(SIGKILL at a random time) or by itself (SIGKILL just before its N-th request is sent, or
just after the answer to its N-th request arrived: committed, not yet acted on).

Every line on stdout is one JSON object, flushed at once, so a SIGKILL loses nothing printed.
The S3 endpoint and credentials come from the standard AWS environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from typing import Any

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    Config,
    S3CheckpointSaver,
    repair,
    verify,
)
from s3saver.base import CheckpointStore
from s3saver.ids import new_checkpoint_id

THREADS = ["a", "b/c", "ü"]
SPACES = ["", "sub"]


def emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


async def apply_op(saver: CheckpointStore, op: dict[str, Any]) -> None:
    """Run one operation of the workload (also used by the test to drive its model)."""
    kind = op["kind"]
    if kind == "put":
        cp = Checkpoint(id=op["id"], ts="t", channel_values=op["values"])
        meta = CheckpointMetadata(source="loop", step=op["step"], run_id=op["run"])
        await saver.put(cp, meta, Config(op["thread"], op["parent"], op["ns"]))
    elif kind == "writes":
        writes = [(i, c, v) for i, c, v in op["writes"]]
        await saver.put_writes(op["thread"], op["ns"], op["id"], op["task"], "", writes)
    elif kind == "prune":
        await saver.prune(op["thread"], op["keep"])
    elif kind == "delete":
        await saver.delete_thread(op["thread"])
    else:
        raise ValueError(op)


async def observe_all(saver: CheckpointStore) -> dict[str, Any]:
    """Every thread and namespace as a reader sees it, as plain JSON."""
    out: dict[str, Any] = {}
    for tid in THREADS:
        for ns in SPACES:
            out[f"{tid}|{ns}"] = [
                {
                    "id": t.checkpoint.id,
                    "values": t.checkpoint.channel_values,
                    "step": t.metadata.step,
                    "parent": None if t.parent_config is None else t.parent_config.checkpoint_id,
                    "writes": [list(w) for w in t.pending_writes],
                }
                for t in await saver.list(Config(thread_id=tid, checkpoint_ns=ns))
            ]
    return out


def next_op(rng: random.Random, mine: dict[str, list[str]], n: int) -> dict[str, Any]:
    tid, ns = rng.choice(THREADS), rng.choice(SPACES)
    key = f"{tid}|{ns}"
    r = rng.random()
    if r < 0.2 and mine:
        wkey = rng.choice(sorted(mine))
        wtid, wns = wkey.split("|")
        return {
            "kind": "writes",
            "thread": wtid,
            "ns": wns,
            "id": rng.choice(mine[wkey]),
            "task": rng.choice(["t1", "t2"]),
            "writes": [[0, "c", n], [1, "d", "x" * rng.randint(0, 50)]],
        }
    if r < 0.32:
        return {"kind": "prune", "thread": tid, "keep": rng.randint(0, 3)}
    if r < 0.40:
        return {"kind": "delete", "thread": tid}
    cid = new_checkpoint_id()
    parent = mine[key][-1] if mine.get(key) else None
    mine.setdefault(key, []).append(cid)
    return {
        "kind": "put",
        "thread": tid,
        "ns": ns,
        "id": cid,
        "parent": parent,
        "step": n,
        "run": rng.choice([None, "r1", "r2"]),
        "values": {"n": n, "pad": "y" * rng.randint(0, 2000)},
    }


def arm_kill(saver: S3CheckpointSaver, at: int, phase: str) -> None:
    """SIGKILL this process just before request ``at`` is sent, or just after its answer."""
    count = 0
    event = "before-send.s3" if phase == "send" else "response-received.s3"

    def handler(**_: Any) -> None:
        nonlocal count
        count += 1
        if count == at:
            os.kill(os.getpid(), signal.SIGKILL)

    saver.transport.add_listener(event, handler)


async def main(cfg: dict[str, Any]) -> None:
    saver = S3CheckpointSaver(cfg["bucket"], cfg["prefix"], max_attempts=3)
    async with saver:
        # 1. the fresh process reads what the killed one left
        state = await observe_all(saver)
        report = await verify(saver)
        emit("state", lists=state, problems=[[p.kind, p.key] for p in report.problems])
        fixed = await repair(saver)
        after = await verify(saver)
        unreachable = [
            e["id"]
            for entries in (await observe_all(saver)).values()
            for e in entries
            if await saver.get(e["id"]) is None
        ]
        emit(
            "repaired",
            repaired=[p.kind for p in fixed.repaired],
            left=[[p.kind, p.key] for p in after.problems],
            unreachable=unreachable,
        )
        # 2. resume: redo the interrupted operation, then go on writing
        if cfg.get("redo"):
            await apply_op(saver, cfg["redo"])
            emit("redone")
        if cfg.get("kill_at"):
            arm_kill(saver, cfg["kill_at"], cfg["kill_phase"])
        rng = random.Random(cfg["seed"])
        mine: dict[str, list[str]] = {}
        emit("go")
        for n in range(cfg["ops"]):
            op = next_op(rng, mine, cfg["seed"] * 1000 + n)
            emit("begin", op=op)
            await apply_op(saver, op)
            emit("ack")
        emit("done")


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))

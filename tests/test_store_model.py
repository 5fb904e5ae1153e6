"""The S3 saver against the in-memory reference model: a seeded random workload of every
operation runs on both, and everything observable must agree step by step."""

from __future__ import annotations

import random
from typing import Any

import pytest

from s3saver import Checkpoint, CheckpointMetadata, Config, MemoryCheckpointSaver
from s3saver.base import CheckpointStore
from s3saver.ids import new_checkpoint_id
from tests.helpers import s3_saver, unique_prefix
from tests.s3env import Endpoint
from tests.test_store_contract import observe

META = CheckpointMetadata


# ------------------------------------------------------------------------------ differential
BASE_OPS = ("put",) * 6 + ("put_same", "put_named", "writes", "get", "get_id", "list", "by_id")
BASE_OPS += ("prune", "delete")
# Copies with ids without time hit a documented limitation (a copy onto a thread holding the
# same such id keeps both), so the copy mix puts time-ordered ids only.
WITH_COPIES_AND_RUNS = (*(op for op in BASE_OPS if op != "put_named"), "copy", "runs")


async def run_workload(
    saver: CheckpointStore, seed: int, ids: list[str], ops: tuple[str, ...] = BASE_OPS
) -> list[Any]:
    """A seeded random mix of every operation; returns everything observable, in order."""
    rng = random.Random(seed)
    threads = ["t", "t/1", "t 1", "ü", "x" * 300]
    spaces = ["", "sub", "a/b"]
    named_ids = ["n1", "n/2", "n%3"]
    seen: list[str] = []
    out: list[Any] = []
    pool = iter(ids)
    for step in range(150):
        op = rng.choice(ops)
        tid, ns = rng.choice(threads), rng.choice(spaces)
        cfg = Config(thread_id=tid, checkpoint_ns=ns)
        if op.startswith("put"):
            if op == "put_same" and seen:
                cid = rng.choice(seen)
            elif op == "put_named":
                cid = rng.choice(named_ids)
            else:
                cid = next(pool, None) or rng.choice(named_ids)
            seen.append(cid)
            parent = Config(tid, rng.choice([None, *seen[-3:]]), ns)
            cp = Checkpoint(id=cid, ts=f"step {step}", channel_values={"step": step})
            run = rng.choice(["r1", "r2", None])
            res = await saver.put(cp, META(step=step, run_id=run), parent)
            out.append(("put", res))
        elif op == "writes" and seen:
            # Writes go to time-ordered ids only: for other ids the S3 store requires the
            # checkpoint first, which the memory model does not.
            cid = rng.choice(ids[:10])
            task = f"task{step % 3}"
            await saver.put_writes(tid, ns, cid, task, "", [(0, "c", step), (-1, "e", step)])
            out.append(("writes", tid, ns, cid))
        elif op == "get":
            out.append(("get", tid, ns, observe(await saver.get_tuple(cfg))))
        elif op == "get_id" and seen:
            got = await saver.get_tuple(Config(tid, rng.choice(seen), ns))
            out.append(("get_id", observe(got)))
        elif op == "list":
            limit = rng.choice([None, 2])
            before = rng.choice([None, None, *seen[-5:]])
            listed = await saver.list(Config(tid, before, ns), limit=limit)
            out.append(("list", [observe(t) for t in listed]))
        elif op == "by_id" and seen:
            cid = rng.choice(seen)
            got = await saver.get(cid)
            out.append(("by_id", cid, None if got is None else got.to_json()))
        elif op == "prune":
            keep = rng.choice([0, 1, 2, 5])
            out.append(("prune", tid, keep, await saver.prune(tid, keep)))
        elif op == "copy":
            target = rng.choice([t for t in threads if t != tid])
            await saver.copy_thread(tid, target)
            out.append(("copy", tid, target))
        elif op == "runs":
            run_ids = rng.choice([["r1"], ["r2"], ["r1", "r2"], ["r3"]])
            await saver.delete_for_runs(run_ids)
            out.append(("runs", run_ids))
        elif op == "delete":
            await saver.delete_thread(tid)
            out.append(("delete", tid))
    for tid in threads:
        for ns in spaces:
            cfg = Config(thread_id=tid, checkpoint_ns=ns)
            out.append(("final", tid, ns, [observe(t) for t in await saver.list(cfg)]))
    for cid in sorted(set(seen)):
        got = await saver.get(cid)
        out.append(("final-id", cid, None if got is None else got.to_json()))
    return out


@pytest.mark.parametrize(("seed", "ops"), [(1, BASE_OPS), (2, BASE_OPS), (3, WITH_COPIES_AND_RUNS)])
async def test_s3_saver_agrees_with_the_memory_model(
    endpoint: Endpoint, bucket: str, seed: int, ops: tuple[str, ...]
) -> None:
    ids = [new_checkpoint_id() for _ in range(200)]
    expected = await run_workload(MemoryCheckpointSaver(), seed, ids, ops)
    async with s3_saver(endpoint, bucket, unique_prefix(f"diff{seed}")) as s3:
        actual = await run_workload(s3, seed, ids, ops)
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        assert a == e, f"step {i} differs"

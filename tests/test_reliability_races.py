"""Races (issue 6): 32 concurrent writers, each its own saver (own client, own marker cache, as
32 processes would be), on one thread and on 32 threads; concurrent prune and delete while
writing. Writers go through the fault proxy with retried faults, so the conditional-write
protocol is exercised with lost answers and retried requests as well as with contention.

Checked: no acknowledged checkpoint lost, nothing duplicated, every object readable and exactly
what its writer wrote, strict newest-first order, and ``verify`` clean (after ``repair`` where a
concurrent delete may legitimately leave hints behind). Works on any HTTP endpoint.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import pytest

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    Config,
    ConflictError,
    S3CheckpointSaver,
    repair,
    verify,
)
from s3saver.ids import new_checkpoint_id, time_order_key
from tests import reliability
from tests.faultproxy import FaultPlan, FaultProxy
from tests.helpers import s3_saver, shared_session, unique_prefix
from tests.s3env import Endpoint

WRITERS = 32
PUTS_EACH = 2
RETRIED = FaultPlan(
    slowdown=0.03,
    internal_error=0.03,
    reset_before=0.02,
    reset_after=0.04,
    latency=0.02,
    latency_s=0.05,
    max_faults=60,
)


@pytest.fixture
def tally(pytestconfig: pytest.Config) -> reliability.Tally:
    return reliability.tally(pytestconfig)


@dataclass
class Acked:
    thread: str
    checkpoint_id: str
    writer: int
    seq: int
    started: float
    ended: float


@asynccontextmanager
async def writers(
    endpoint: Endpoint, bucket: str, prefix: str, tally: reliability.Tally, seed: int
) -> AsyncIterator[list[S3CheckpointSaver]]:
    """WRITERS separate savers, all through one fault proxy (retries on)."""
    proxy = FaultProxy(endpoint.url, seed=seed, faults=RETRIED, lifetime_s=240)
    async with proxy, AsyncExitStack() as stack:
        savers = []
        for _ in range(WRITERS):
            saver = S3CheckpointSaver(
                bucket,
                prefix,
                endpoint_url=proxy.url,
                region_name=endpoint.region,
                session=shared_session(),
                max_attempts=6,
                read_timeout=10,
                max_connections=8,
                check_store=False,
            )
            await reliability.checked_like(saver, endpoint, bucket)
            savers.append(await stack.enter_async_context(saver))
        yield savers
    tally.add_proxy(proxy.stats)
    assert proxy.stats.total_faults > 0, "the race ran without any fault injected"


async def write_series(
    saver: S3CheckpointSaver,
    writer: int,
    thread: str,
    count: int,
    tally: reliability.Tally,
    run_id: str | None = None,
    with_writes: bool = True,
) -> list[Acked]:
    """``count`` puts in sequence (each with a pending write); returns the acknowledged ones."""
    done = []
    for seq in range(count):
        cp = Checkpoint(id=new_checkpoint_id(), channel_values={"writer": writer, "seq": seq})
        started = time.monotonic()
        await saver.put(cp, CheckpointMetadata(step=seq, run_id=run_id), Config(thread))
        tally.op("put", ok=True)
        if with_writes:
            await saver.put_writes(thread, "", cp.id, f"task-{writer}", "", [(0, "out", seq)])
            tally.op("writes", ok=True)
        done.append(Acked(thread, cp.id, writer, seq, started, time.monotonic()))
    return done


def newest_first(ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda c: time_order_key(c) or 0, reverse=True)


async def check_thread(
    reader: S3CheckpointSaver, thread: str, acked: list[Acked], with_writes: bool = True
) -> None:
    """The thread holds exactly the acknowledged checkpoints, newest first, each intact.
    (Reachability by id is verify's job: every test runs it afterwards.)"""
    listed = await reader.list(Config(thread))
    got = [t.checkpoint.id for t in listed]
    expected = newest_first([a.checkpoint_id for a in acked])
    missing = set(expected) - set(got)
    assert not missing, f"{len(missing)} acknowledged checkpoints lost"
    assert len(got) == len(set(got)), "a checkpoint is listed twice"
    assert got == expected, "not strictly newest first, or something extra"
    by_id = {a.checkpoint_id: a for a in acked}
    for t in listed:
        a = by_id[t.checkpoint.id]
        assert t.checkpoint.channel_values == {"writer": a.writer, "seq": a.seq}
        assert t.pending_writes == ([(f"task-{a.writer}", "out", a.seq)] if with_writes else [])


async def test_32_writers_on_one_thread(
    endpoint: Endpoint, bucket: str, tally: reliability.Tally
) -> None:
    prefix = unique_prefix("race1")
    async with writers(endpoint, bucket, prefix, tally, seed=11) as savers:
        results = await asyncio.gather(
            *(write_series(s, i, "shared", PUTS_EACH, tally) for i, s in enumerate(savers))
        )
    acked = [a for r in results for a in r]
    assert len(acked) == WRITERS * PUTS_EACH
    async with s3_saver(endpoint, bucket, prefix) as reader:
        await check_thread(reader, "shared", acked)
        report = await verify(reader)
    assert report.ok, report.problems
    assert report.checkpoints == len(acked) and report.index_entries == len(acked)
    tally.checks["race: acknowledged checkpoints found"] += len(acked)


async def test_32_writers_on_32_threads(
    endpoint: Endpoint, bucket: str, tally: reliability.Tally
) -> None:
    prefix = unique_prefix("race32")
    async with writers(endpoint, bucket, prefix, tally, seed=12) as savers:
        results = await asyncio.gather(
            *(
                write_series(s, i, f"t{i}", 1, tally, with_writes=False)
                for i, s in enumerate(savers)
            )
        )
    async with s3_saver(endpoint, bucket, prefix) as reader:
        for i, acked in enumerate(results):
            assert len(acked) == 1
            await check_thread(reader, f"t{i}", acked, with_writes=False)
        report = await verify(reader)
    assert report.ok, report.problems
    assert report.threads == WRITERS and report.checkpoints == WRITERS
    tally.checks["race: acknowledged checkpoints found"] += WRITERS


async def test_32_writers_replace_one_checkpoint_and_merge_one_task(
    endpoint: Endpoint, bucket: str, tally: reliability.Tally
) -> None:
    """Same id, same task, 32 writers at once: one entry, one writer's whole content, and the
    task's writes merged by LangGraph's rule (first value per index wins; no duplicates)."""
    prefix = unique_prefix("race-same")
    cid = new_checkpoint_id()
    merged: set[int] = set()

    async def one(saver: S3CheckpointSaver, writer: int) -> int | None:
        cp = Checkpoint(id=cid, channel_values={"writer": writer, "pad": "x" * writer})
        try:
            await saver.put(cp, CheckpointMetadata(step=writer), Config("same"))
        except ConflictError:
            tally.op("put", ok=False)  # lost every compare-and-swap: allowed, and said so
            return None
        tally.op("put", ok=True)
        try:
            await saver.put_writes(
                "same", "", cid, "task", "", [(0, "c", writer), (-1, "e", writer)]
            )
        except ConflictError:
            tally.op("writes", ok=False)  # lost every merge attempt: allowed, and said so
        else:
            tally.op("writes", ok=True)
            merged.add(writer)
        return writer

    async with writers(endpoint, bucket, prefix, tally, seed=13) as savers:
        won = await asyncio.gather(*(one(s, i) for i, s in enumerate(savers)))
    acked = {w for w in won if w is not None}
    assert acked, "no writer succeeded"
    async with s3_saver(endpoint, bucket, prefix) as reader:
        listed = await reader.list(Config("same"))
        assert len(listed) == 1, "one id, one entry"
        t = listed[0]
        w = t.checkpoint.channel_values["writer"]
        assert w in acked and t.checkpoint.channel_values == {"writer": w, "pad": "x" * w}
        assert t.metadata.step == w, "checkpoint and metadata from different writers"
        writes = t.pending_writes
        assert merged, "no pending write was acknowledged"
        assert sorted(c for _, c, _ in writes) == ["c", "e"], writes
        assert all(v in merged for _, _, v in writes), (writes, merged)
        by_id = await reader.get(cid)
        assert by_id is not None and by_id.channel_values == t.checkpoint.channel_values
        report = await verify(reader)
    assert report.ok, report.problems


async def test_prune_and_delete_while_writing(
    endpoint: Endpoint, bucket: str, tally: reliability.Tally
) -> None:
    """16 writers on thread P while P is pruned over and over (keep 3); 16 writers on thread D
    while D is deleted now and then. Prune never removes one of the newest 3; what was
    acknowledged before a delete began is gone, what began after it ended is there."""
    prefix = unique_prefix("race-del")
    keep = 3
    rng = random.Random(5)
    prunes: list[int] = []
    deletes: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async with writers(endpoint, bucket, prefix, tally, seed=14) as savers:

        async def pruner(saver: S3CheckpointSaver) -> None:
            while not stop.is_set():
                prunes.append(await saver.prune("P", keep))
                tally.op("prune", ok=True)
                await asyncio.sleep(rng.uniform(0, 0.05))

        async def deleter(saver: S3CheckpointSaver) -> None:
            while not stop.is_set():
                await asyncio.sleep(rng.uniform(0.1, 0.4))
                started = time.monotonic()
                await saver.delete_thread("D")
                tally.op("delete", ok=True)
                deletes.append((started, time.monotonic()))

        async def all_writers() -> list[list[Acked]]:
            try:
                return await asyncio.gather(
                    *(write_series(s, i, "P", PUTS_EACH, tally) for i, s in enumerate(savers[:16])),
                    *(
                        write_series(s, i, "D", PUTS_EACH, tally, run_id="run-d")
                        for i, s in enumerate(savers[16:-2], start=16)
                    ),
                )
            finally:
                stop.set()

        results, _, _ = await asyncio.gather(all_writers(), pruner(savers[-2]), deleter(savers[-1]))
        await savers[-2].prune("P", keep)  # once more, after the last write
    acked = [a for r in results for a in r]
    on_p = [a for a in acked if a.thread == "P"]
    on_d = [a for a in acked if a.thread == "D"]
    assert deletes and sum(prunes) > 0, "the race did not overlap"
    async with s3_saver(endpoint, bucket, prefix) as reader:
        # Prune: exactly the newest `keep` acknowledged checkpoints remain, intact.
        newest = newest_first([a.checkpoint_id for a in on_p])[:keep]
        await check_thread(reader, "P", [a for a in on_p if a.checkpoint_id in newest])
        # Delete: before/after by the clock.
        present = {t.checkpoint.id for t in await reader.list(Config("D"))}
        last_end = deletes[-1][1]
        for a in on_d:
            if a.started > last_end:
                assert a.checkpoint_id in present, "a put after the last delete is lost"
        gone_for_sure = {
            a.checkpoint_id for a in on_d if any(a.ended < d_start for d_start, _ in deletes)
        }
        assert not (gone_for_sure & present), "a delete_thread left a checkpoint behind"
        report = await verify(reader)
        for p in report.problems:
            tally.problems_found[p.kind] += 1
        assert all(p.repairable for p in report.problems), report.problems
        fixed = await repair(reader)
        assert fixed.ok, fixed.problems
        final = await verify(reader)
        tally.problems_left += len(final.problems)
        assert final.ok, final.problems
        for t in await reader.list(Config("D")):
            assert t.checkpoint.channel_values["writer"] >= 16  # intact, its writer's
            assert await reader.get(t.checkpoint.id) is not None
        tally.checks["race: acknowledged checkpoints found"] += len(newest) + len(present)

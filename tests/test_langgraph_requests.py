"""Request economy of the LangGraph saver, counted by hooking the S3 client.

Resuming a thread (newest checkpoint with its pending writes) must cost the same at 10 and at
3,000 checkpoints and take at most 2 sequential round trips; ``put`` and ``put_writes`` one.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.base")

from langgraph.checkpoint.base import empty_checkpoint

from s3saver import S3CheckpointSaver, codec
from s3saver.ids import time_order_key
from s3saver.langgraph import AsyncS3Saver
from s3saver.layout import Layout
from tests.helpers import RequestCounter
from tests.s3env import Endpoint


def _checkpoint(step: int) -> dict[str, Any]:
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": [f"m{n}" for n in range(3)], "step": step}
    cp["channel_versions"] = {"messages": f"{step:032d}.0", "step": f"{step:032d}.0"}
    return dict(cp)


async def _grow(saver: AsyncS3Saver, thread: str, count: int) -> dict[str, Any]:
    """``count`` checkpoints in a thread, the newest with writes from two tasks.

    Only the newest is put through ``aput``; the older ones are written straight to their keys
    with the saver's own record conversion and body encoding (byte for byte what ``aput``
    stores, minus the index entries, which resuming never reads). That halves the requests
    needed to build a 3,000-checkpoint thread on a slow test server.
    """
    store = saver.store
    assert isinstance(store, S3CheckpointSaver)
    base = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    cps = [_checkpoint(i) for i in range(count)]
    sem = asyncio.Semaphore(64)

    async def direct(step: int, cp: dict[str, Any]) -> None:
        record = saver._record(base, cp, {"source": "loop", "step": step, "parents": {}})  # type: ignore[arg-type]
        order = time_order_key(record.checkpoint_id)
        assert order is not None
        stem = store.layout.stem(thread, "", order, record.checkpoint_id)
        async with sem:
            await store.transport.put(Layout.checkpoint_key(stem), codec.encode_checkpoint(record))

    await asyncio.gather(*(direct(i, cp) for i, cp in enumerate(cps[:-1])))
    await saver.aput(base, cps[-1], {"source": "loop", "step": count - 1, "parents": {}}, {})  # type: ignore[arg-type]
    newest = {
        "configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": cps[-1]["id"]}
    }
    await saver.aput_writes(newest, [("messages", "a"), ("step", 1)], "task-a", "path-a")
    await saver.aput_writes(newest, [("__interrupt__", {"q": 1})], "task-b", "path-b")
    return newest


async def test_resume_costs_the_same_at_10_and_3000_checkpoints(
    endpoint: Endpoint, bucket: str
) -> None:
    counter = RequestCounter()
    async with AsyncS3Saver(
        bucket, "economy", endpoint_url=endpoint.url, region_name=endpoint.region
    ) as saver:
        counter.attach_saver(saver.store)  # type: ignore[arg-type]
        costs = {}
        for count in (10, 3000):
            thread = f"t{count}-{uuid.uuid4().hex[:6]}"
            newest = await _grow(saver, thread, count)
            latest, cost = await counter.measure(
                saver.aget_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
            )
            assert latest is not None
            assert (
                latest.config["configurable"]["checkpoint_id"]
                == newest["configurable"]["checkpoint_id"]
            )
            assert [(t, c) for t, c, _ in latest.pending_writes] == [
                ("task-a", "messages"),
                ("task-a", "step"),
                ("task-b", "__interrupt__"),
            ]
            costs[count] = cost
        assert costs[10].requests == costs[3000].requests
        assert costs[10].by_operation == costs[3000].by_operation
        # one LIST, then the checkpoint and its two writes objects in parallel
        assert costs[3000].by_operation == {"ListObjectsV2": 1, "GetObject": 3}
        assert costs[3000].round_trips <= 2


async def test_put_and_put_writes_are_one_round_trip(endpoint: Endpoint, bucket: str) -> None:
    counter = RequestCounter()
    async with AsyncS3Saver(
        bucket, "economy", endpoint_url=endpoint.url, region_name=endpoint.region
    ) as saver:
        counter.attach_saver(saver.store)  # type: ignore[arg-type]
        thread = f"put-{uuid.uuid4().hex[:6]}"
        config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        meta = {"source": "loop", "step": 0, "parents": {}, "run_id": "run-1"}
        for step in range(3):
            stored, cost = await counter.measure(saver.aput(config, _checkpoint(step), meta, {}))
            assert cost.round_trips == 1, cost
            # checkpoint + index; the run's two markers only with the first put of the run
            expected = 4 if step == 0 else 2
            assert cost.by_operation == {"PutObject": expected}, cost
            config = stored
        _, cost = await counter.measure(
            saver.aput_writes(config, [("a", 1), ("b", 2)], "task-1", "p")
        )
        assert cost.round_trips == 1 and cost.by_operation == {"PutObject": 1}

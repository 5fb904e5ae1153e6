"""LangGraph semantics the conformance suite does not cover: hostile ids and nested namespaces,
WRITES_IDX_MAP rules, writes before their checkpoint, filters and `before` served cheaply,
versions, with_allowlist copies, and thread-safety of the sync saver."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.base")

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from s3saver import InvalidArgument
from s3saver.langgraph import AsyncS3Saver, S3Saver
from tests.helpers import RequestCounter
from tests.s3env import Endpoint

HOSTILE = ["a/b", "..", "100%|x", "user@example.com", "naïve 中文 😀", "x" * 500, " spaced "]


def _cp(**values: Any) -> dict[str, Any]:
    cp = dict(empty_checkpoint())
    cp["channel_values"] = values
    return cp


def _cfg(thread: str, ns: str = "", cid: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if cid:
        conf["checkpoint_id"] = cid
    return {"configurable": conf}


def _meta(step: int = 0, **extra: Any) -> dict[str, Any]:
    return {"source": "loop", "step": step, "parents": {}, **extra}


@pytest.fixture
async def saver(endpoint: Endpoint, bucket: str) -> Any:
    async with AsyncS3Saver(
        bucket, "sem", endpoint_url=endpoint.url, region_name=endpoint.region
    ) as s:
        yield s


async def test_hostile_thread_ids_and_nested_namespaces_round_trip(saver: AsyncS3Saver) -> None:
    namespaces = ["", "parent:1", "parent:1|child:2", "p:a|c:b|g:c:d", "weird/ns|..|%"]
    stored = {}
    for thread in HOSTILE:
        for ns in namespaces:
            cfg = await saver.aput(_cfg(thread, ns), _cp(t=thread, ns=ns), _meta(), {})
            stored[(thread, ns)] = cfg["configurable"]["checkpoint_id"]
    for (thread, ns), cid in stored.items():
        tup = await saver.aget_tuple(_cfg(thread, ns))
        assert tup is not None
        assert tup.config["configurable"] == {
            "thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": cid,
        }  # fmt: skip
        assert tup.checkpoint["channel_values"] == {"t": thread, "ns": ns}
    # deleting "a/b" leaves "a" alone, and "a" (never written) stays empty
    await saver.adelete_thread("a/b")
    assert await saver.aget_tuple(_cfg("a/b")) is None
    assert await saver.aget_tuple(_cfg("..")) is not None
    assert [t async for t in saver.alist(_cfg("a"))] == []
    with pytest.raises(InvalidArgument):
        await saver.aget_tuple(_cfg(""))


async def test_writes_index_rules_and_writes_before_their_checkpoint(saver: AsyncS3Saver) -> None:
    thread = f"w-{uuid.uuid4().hex[:6]}"
    cp = _cp(n=1)
    target = _cfg(thread, "", cp["id"])
    # writes arrive first (LangGraph's async durability), then the checkpoint
    await saver.aput_writes(target, [("a", 1), ("b", 2)], "task-1", "path-1")
    assert await saver.aget_tuple(target) is None  # no checkpoint yet: nothing to resume
    await saver.aput(_cfg(thread), cp, _meta(), {})
    # a retried task re-sends regular writes: the first values stay
    await saver.aput_writes(target, [("a", 100), ("b", 200)], "task-1", "path-1")
    # special writes replace their previous value
    await saver.aput_writes(target, [("__interrupt__", "first")], "task-2", "path-0")
    await saver.aput_writes(target, [("__interrupt__", "second")], "task-2", "path-0")
    await saver.aput_writes(target, [("__error__", "boom")], "task-1", "path-1")
    tup = await saver.aget_tuple(_cfg(thread))
    assert tup is not None
    # (task_path, task_id, idx) order; idx of specials is negative
    assert tup.pending_writes == [
        ("task-2", "__interrupt__", "second"),
        ("task-1", "__error__", "boom"),
        ("task-1", "a", 1),
        ("task-1", "b", 2),
    ]


async def test_filter_and_before_are_served_without_fetching_every_body(
    saver: AsyncS3Saver,
) -> None:
    thread = f"f-{uuid.uuid4().hex[:6]}"
    counter = RequestCounter().attach_saver(saver.store)  # type: ignore[arg-type]
    ids = []
    big = "x" * 20_000  # bodies well above the 4 KiB head a filter reads
    for step in range(12):
        source = "input" if step % 4 == 0 else "loop"
        cfg = await saver.aput(
            _cfg(thread), _cp(blob=big, step=step), _meta(step, source=source), {}
        )
        ids.append(cfg["configurable"]["checkpoint_id"])
    counter.reset()
    found = [t async for t in saver.alist(_cfg(thread), filter={"source": "input"})]
    cost = counter.snapshot()
    assert [t.metadata["step"] for t in found] == [8, 4, 0]
    # one ranged GET per candidate, a full GET only for the 3 matches
    assert cost.by_operation == {"ListObjectsV2": 1, "GetObject": 12 + 3}

    counter.reset()
    older = [t async for t in saver.alist(_cfg(thread), before=_cfg(thread, "", ids[5]), limit=2)]
    cost = counter.snapshot()
    assert [t.checkpoint["id"] for t in older] == [ids[4], ids[3]]
    # S3 skips the newer keys itself (StartAfter): one LIST, two GETs, two round trips
    assert cost.by_operation == {"ListObjectsV2": 1, "GetObject": 2}
    assert cost.round_trips == 2


async def test_list_of_all_threads_and_versions(saver: AsyncS3Saver) -> None:
    threads = {f"all-{i}-{uuid.uuid4().hex[:4]}" for i in range(3)}
    for thread in threads:
        await saver.aput(_cfg(thread), _cp(), _meta(), {})
    seen = {t.config["configurable"]["thread_id"] async for t in saver.alist(None)}
    assert threads <= seen
    versions = [saver.get_next_version(None)]
    for _ in range(12):
        versions.append(saver.get_next_version(versions[-1]))
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert int(versions[-1].split(".")[0]) == 13


async def test_with_allowlist_copy_uses_its_own_serde(endpoint: Endpoint, bucket: str) -> None:
    strict = JsonPlusSerializer(allowed_msgpack_modules=None)
    async with AsyncS3Saver(
        bucket, "sem", serde=strict, endpoint_url=endpoint.url, region_name=endpoint.region
    ) as saver:
        clone = saver.with_allowlist([("tests.test_langgraph_semantics", "Nothing")])
        assert clone is not saver and clone.serde is not saver.serde
        thread = f"allow-{uuid.uuid4().hex[:6]}"
        await clone.aput(_cfg(thread), _cp(k="v"), _meta(), {})
        tup = await saver.aget_tuple(_cfg(thread))
        assert tup is not None and tup.checkpoint["channel_values"] == {"k": "v"}
        back = await clone.aget_tuple(_cfg(thread))
        assert back is not None and back.checkpoint["channel_values"] == {"k": "v"}


def test_sync_saver_is_thread_safe(endpoint: Endpoint, bucket: str) -> None:
    thread_ids = [f"sync-{i}-{uuid.uuid4().hex[:4]}" for i in range(8)]
    with S3Saver(
        bucket, "sem-sync", endpoint_url=endpoint.url, region_name=endpoint.region
    ) as saver:
        seen_threads: set[int] = set()

        def work(thread: str) -> list[str]:
            seen_threads.add(threading.get_ident())
            parent = _cfg(thread)
            ids = []
            for step in range(5):
                parent = saver.put(parent, _cp(step=step), _meta(step), {})
                ids.append(parent["configurable"]["checkpoint_id"])
            return ids

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = dict(zip(thread_ids, pool.map(work, thread_ids), strict=True))
        assert len(seen_threads) > 1
        for thread, ids in results.items():
            listed = [t.checkpoint["id"] for t in saver.list(_cfg(thread))]
            assert listed == list(reversed(ids))
            latest = saver.get_tuple(_cfg(thread))
            assert latest is not None and latest.parent_config is not None
            assert latest.parent_config["configurable"]["checkpoint_id"] == ids[-2]


async def test_sync_saver_works_inside_and_outside_event_loops(
    endpoint: Endpoint, bucket: str
) -> None:
    saver = S3Saver(bucket, "sem-mixed", endpoint_url=endpoint.url, region_name=endpoint.region)
    try:
        cfg = await saver.aput(_cfg("mixed"), _cp(a=1), _meta(), {})
        got = await asyncio.to_thread(saver.get_tuple, _cfg("mixed"))
        assert got is not None and got.config == cfg
    finally:
        await asyncio.to_thread(saver.close)

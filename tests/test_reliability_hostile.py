"""Hostile input (issue 6).

* Fuzzed thread ids, namespaces and task ids (any Unicode text, separators, percent signs,
  dots, names of s3saver's own keys, very long) round-trip exactly and stay isolated: each
  (thread, namespace) sees only its own checkpoints, deleting one thread leaves the others,
  and the S3 saver agrees with the memory model throughout.
* Objects under the prefix that s3saver did not write (garbage, wrong JSON, empty, a few MB,
  placed where its own keys would be) never crash a listing, a prune, a delete or ``verify``;
  ``repair`` never touches them.

Runs unchanged on any endpoint.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    Config,
    CorruptObject,
    InvalidArgument,
    MemoryCheckpointSaver,
    S3CheckpointSaver,
    repair,
    verify,
)
from s3saver.base import CheckpointStore
from s3saver.ids import new_checkpoint_id
from s3saver.layout import inverted
from tests import reliability
from tests.helpers import HOSTILE, all_keys, create_bucket, raw_client, s3_saver, unique_prefix
from tests.s3env import Endpoint
from tests.test_store_contract import observe

FUZZ = dict(
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EXAMPLES = int(os.environ.get("S3SAVER_HOSTILE_EXAMPLES", "5"))

# Valid Unicode text (lone surrogates cannot be stored as JSON: see the test below).
text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30)
PIECES = ["/", "//", "%", "%2F", "%25", ".", "..", "~", "!", "ns", "threads", "index", "runs"]
PIECES += [
    "a",
    "é",
    "日本",
    "😀",
    "\x00",
    " ",
    "\n",
    ".json",
    ".w",
    "-",
    "_",
    "~runs",
    "!shared.json",
]
pieces = st.sampled_from(PIECES)
glued = st.lists(pieces, min_size=1, max_size=8).map("".join)
long_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=60, max_size=1500)
name = st.one_of(text, glued, st.sampled_from(HOSTILE), long_text)
namespace = st.one_of(st.just(""), name)


@pytest.fixture(scope="module")
async def hostile_bucket(endpoint: Endpoint) -> str:
    return await create_bucket(endpoint)


@pytest.fixture
def tally(pytestconfig: pytest.Config) -> reliability.Tally:
    return reliability.tally(pytestconfig)


async def fill(saver: CheckpointStore, places: list[tuple[str, str]], ids: list[str]) -> None:
    for i, ((thread, ns), cid) in enumerate(zip(places, ids, strict=True)):
        cp = Checkpoint(id=cid, ts="t", channel_values={"thread": thread, "ns": ns, "i": i})
        await saver.put(cp, CheckpointMetadata(step=i, who=thread), Config(thread, None, ns))
        await saver.put_writes(thread, ns, cid, thread + ns, ns, [(0, thread, ns)])


async def view(saver: CheckpointStore, places: list[tuple[str, str]], ids: list[str]) -> Any:
    out: list[Any] = []
    for thread, ns in places:
        out.append([observe(t) for t in await saver.list(Config(thread, None, ns))])
        out.append(observe(await saver.get_tuple(Config(thread, None, ns))))
    for cid in ids:
        got = await saver.get(cid)
        out.append(None if got is None else got.to_json())
    return out


@settings(max_examples=EXAMPLES, **FUZZ)
@given(
    places=st.lists(st.tuples(name, namespace), min_size=2, max_size=4, unique=True),
    names=st.lists(st.one_of(st.none(), st.none(), name), min_size=4, max_size=4),
)
async def test_fuzzed_names_round_trip_and_stay_isolated(
    endpoint: Endpoint,
    hostile_bucket: str,
    tally: reliability.Tally,
    places: list[tuple[str, str]],
    names: list[str | None],
) -> None:
    # checkpoint ids: time-ordered, or fuzzed text too (made unique: one id per place here)
    ids = [new_checkpoint_id() if n is None else f"{n}#{i}" for i, n in enumerate(names)]
    ids = ids[: len(places)]
    memory = MemoryCheckpointSaver()
    async with s3_saver(endpoint, hostile_bucket, unique_prefix("fuzz")) as s3:
        await fill(s3, places, ids)
        await fill(memory, places, ids)
        tally.op("put", ok=True)
        got = await view(s3, places, ids)
        assert got == await view(memory, places, ids)
        # Round trip: each place sees exactly its own checkpoint, names intact.
        for (thread, ns), cid in zip(places, ids, strict=True):
            (t,) = await s3.list(Config(thread, None, ns))
            assert (t.config.thread_id, t.config.checkpoint_ns, t.config.checkpoint_id) == (
                thread,
                ns,
                cid,
            )
            assert t.checkpoint.channel_values["thread"] == thread
            assert t.pending_writes == [(thread + ns, thread, ns)]
        # Every thread comes back by name from a listing of all threads.
        every = {
            (r.thread_id, r.checkpoint_ns, r.checkpoint_id)
            async for r in s3.iter_records(None, None)
        }
        assert every == {(t, n, c) for (t, n), c in zip(places, ids, strict=True)}
        # Isolation under delete: only the deleted thread goes.
        victim = places[0][0]
        await s3.delete_thread(victim)
        await memory.delete_thread(victim)
        tally.op("delete", ok=True)
        assert await view(s3, places, ids) == await view(memory, places, ids)
        report = await verify(s3)
        assert report.ok, report.problems
        tally.checks["fuzzed (thread, namespace) places"] += len(places)


async def test_very_long_names_round_trip(
    endpoint: Endpoint, hostile_bucket: str, tally: reliability.Tally
) -> None:
    """Names far beyond S3's 1,024-byte key limit: the key stays short, the name exact."""
    thread, ns, cid = "t/" + "ü" * 20_000, "n/" + "😀" * 10_000, "id/" + "x" * 5_000
    places = [(thread, ns), (thread, ""), (thread[:-1], ns)]
    ids = [cid, new_checkpoint_id(), cid + "2"]
    memory = MemoryCheckpointSaver()
    async with s3_saver(endpoint, hostile_bucket, unique_prefix("long")) as s3:
        await fill(s3, places, ids)
        await fill(memory, places, ids)
        assert await view(s3, places, ids) == await view(memory, places, ids)
        got = await s3.get_tuple(Config(thread, cid, ns))
        assert got is not None and got.config == Config(thread, cid, ns)
        every = {(r.thread_id, r.checkpoint_ns) async for r in s3.iter_records(None, None)}
        assert every == set(places)
        async with raw_client(endpoint) as raw:
            keys = await all_keys(raw, hostile_bucket, s3.prefix)
        assert max(len(k.encode()) for k in keys) < 1024
        await s3.delete_thread(thread)
        assert [r.thread_id async for r in s3.iter_records(None, None)] == [thread[:-1]]
        assert (await verify(s3)).ok
    tally.checks["fuzzed (thread, namespace) places"] += len(places)


async def test_a_lone_surrogate_is_refused_before_any_request(
    endpoint: Endpoint, hostile_bucket: str
) -> None:
    prefix = unique_prefix("surrogate")
    async with s3_saver(endpoint, hostile_bucket, prefix) as s3:
        for thread, ns in [("\ud800", ""), ("ok", "\udfff")]:
            with pytest.raises(InvalidArgument):
                await s3.put(Checkpoint(), CheckpointMetadata(), Config(thread, None, ns))
    async with raw_client(endpoint) as raw:
        assert await all_keys(raw, hostile_bucket, prefix) == []


def newest_key(saver: S3CheckpointSaver, thread: str, ns: str = "") -> str:
    """A checkpoint-shaped key that sorts before (= is newer than) everything in the thread."""
    return saver.layout.ns_prefix(thread, ns) + f"{inverted((1 << 128) - 1)}-{uuid.uuid4()}.json"


BODIES: dict[str, bytes] = {
    "empty": b"",
    "garbage": b"\x00\xff garbage \xfe",
    "text": b"hello",
    "json array": b"[1, 2, 3]",
    "json null": b"null",
    "empty object": b"{}",
    "no format": b'{"kind": "checkpoint"}',
    "future format": b'{"format": 99, "kind": "checkpoint"}',
    "wrong kind": b'{"format":1,"kind":"index","id":"x","thread_id":"t","ns":"","key":"k"}',
    "fields missing": b'{"format": 1, "kind": "checkpoint", "metadata": {}}',
    "wrong types": (
        b'{"format":1,"kind":"checkpoint","metadata":[],"id":5,"ns":null,'
        b'"parent_id":{},"checkpoint":"x"}'
    ),
    "deep nesting": b"[" * 100_000,
    "bad writes": b'{"format":1,"kind":"writes","task_id":"t","task_path":"","writes":[[1]]}',
    "huge": b'{"format":1,"kind":"checkpoint","metadata":{"pad":"' + b"z" * (6 << 20) + b'"}}',
}


GROUPS = [
    ["empty", "garbage", "text", "json array", "json null"],
    ["empty object", "no format", "future format", "wrong kind", "fields missing"],
    ["wrong types", "deep nesting", "bad writes", "huge"],
]
assert sorted(b for g in GROUPS for b in g) == sorted(BODIES)


def foreign_keys(s3: S3CheckpointSaver, i: int) -> dict[str, str]:
    """Keys for the ``i``-th foreign body: where s3saver's own objects would be, and not."""
    layout = s3.layout
    tprefix = layout.thread_prefix("good")
    stray = newest_key(s3, "good")
    return {
        stray: "stray checkpoint",
        stray[: -len(".json")] + ".w/task.json": "writes of the stray",
        newest_key(s3, "good", "sub"): "checkpoint in a namespace",
        newest_key(s3, "lonely"): "the only object of a thread",
        layout.index_key(new_checkpoint_id()): "index entry",
        f"{layout.prefix}runs/r/x{i}": "run marker",
        tprefix + "~thread.json": "thread marker",
        tprefix + f"README{i}": "outside the layout",
        f"{layout.prefix}threads/loose{i}": "outside the layout",
        f"{layout.prefix}stray{i}.json": "outside the layout",
        f"{layout.prefix}index/zz{i}": "outside the layout",
    }


@pytest.mark.parametrize("group", GROUPS, ids=["junk", "not-ours", "malformed-and-huge"])
async def test_foreign_objects_never_crash_a_reader(
    endpoint: Endpoint, hostile_bucket: str, tally: reliability.Tally, group: list[str]
) -> None:
    prefix = unique_prefix("foreign")
    async with s3_saver(endpoint, hostile_bucket, prefix) as s3:
        good = []
        for step in range(3):
            cfg = await s3.put(
                Checkpoint(channel_values={"step": step}),
                CheckpointMetadata(step=step, run_id="r"),
                Config("good"),
            )
            good.append(cfg.checkpoint_id)
        await s3.put_writes("good", "", good[-1], "task", "", [(0, "c", 1)])
        tprefix = s3.layout.thread_prefix("good")
        planted: dict[str, str] = {}
        strays: set[str] = set()
        async with raw_client(endpoint) as raw:
            for i, body_name in enumerate(group):
                keys = foreign_keys(s3, i)
                strays |= {k for k, what in keys.items() if what == "stray checkpoint"}
                for key in keys:
                    await raw.put_object(Bucket=hostile_bucket, Key=key, Body=BODIES[body_name])
                    planted[key] = body_name

        listed = [t.checkpoint.id for t in await s3.list(Config("good"))]
        assert listed == good[::-1], "a foreign object changed a listing"
        assert await s3.list(Config("good", None, "sub")) == []
        assert await s3.list(Config("lonely")) == []
        every = [r.checkpoint_id async for r in s3.iter_records(None, None)]
        assert every == good[::-1]
        filtered = [
            r.checkpoint_id async for r in s3.iter_records("good", "", metadata_filter={"step": 1})
        ]
        assert filtered == [good[1]]
        # The newest keys are foreign: reading "the newest" directly names the culprit.
        with pytest.raises(CorruptObject) as info:
            await s3.get_tuple(Config("good"))
        assert info.value.key in strays
        assert (await s3.get_tuple(Config("good", good[1]))) is not None
        assert await s3.get(good[0]) is not None

        report = await verify(s3)
        kinds = {p.kind for p in report.problems}
        assert "foreign-object" in kinds or "corrupt-object" in kinds
        assert kinds <= {
            "foreign-object",
            "corrupt-object",
            "unindexed-checkpoint",
            "dangling-index",
            "orphan-marker",
        }, kinds
        await repair(s3)
        async with raw_client(endpoint) as raw:
            left = set(await all_keys(raw, hostile_bucket, prefix))
        assert strays <= left, "repair deleted a foreign object"
        assert tprefix + "README0" in left, "repair deleted a foreign object"
        assert [t.checkpoint.id for t in await s3.list(Config("good"))] == good[::-1]

        # Deleting operations get through the foreign objects too.
        await s3.prune("good", 1)
        await s3.delete_for_runs(["r"])
        await s3.delete_thread("good")
        await s3.delete_thread("lonely")
        assert await s3.list(Config("good")) == []
        tally.checks["foreign object bodies survived"] += len(group)

"""The checkpoint contract, run against both savers: S3 on the test endpoint and the in-memory
reference model. Each test asserts the specified behaviour; the differential test at the end
also checks that the two savers agree on everything observable after a random workload."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    Config,
    EncodingError,
    InvalidArgument,
    MemoryCheckpointSaver,
    S3SaverError,
)
from s3saver.base import CheckpointStore
from s3saver.ids import new_checkpoint_id
from tests.helpers import HOSTILE, checkpoint, create_bucket, put_many, s3_saver, unique_prefix
from tests.s3env import Endpoint

META = CheckpointMetadata


@pytest.fixture(scope="module")
async def module_bucket(endpoint: Endpoint) -> str:
    """One bucket for this module; every S3 test works under its own fresh prefix."""
    return await create_bucket(endpoint)


@pytest.fixture(params=["memory", "s3"])
async def saver(
    request: pytest.FixtureRequest, endpoint: Endpoint, module_bucket: str
) -> AsyncIterator[CheckpointStore]:
    if request.param == "memory":
        yield MemoryCheckpointSaver()
        return
    async with s3_saver(endpoint, module_bucket, unique_prefix()) as s3:
        yield s3


def observe(t: CheckpointTuple | None) -> dict[str, Any] | None:
    """Everything a caller can see of a tuple, as plain data."""
    if t is None:
        return None
    return {
        "config": (t.config.thread_id, t.config.checkpoint_ns, t.config.checkpoint_id),
        "parent": None
        if t.parent_config is None
        else (
            t.parent_config.thread_id,
            t.parent_config.checkpoint_ns,
            t.parent_config.checkpoint_id,
        ),
        "checkpoint": t.checkpoint.to_json(),
        "metadata": t.metadata.to_json(),
        "writes": [list(w) for w in t.pending_writes],
    }


def assert_same_json(actual: Any, expected: Any, path: str = "$") -> None:
    """Equal *and* of the same JSON types all the way down (True is not 1, 1.0 is not 1)."""
    assert type(actual) is type(expected), f"{path}: {type(actual)} != {type(expected)}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            assert_same_json(actual[k], expected[k], f"{path}.{k}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{path}: length"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_json(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


async def ids_of(saver: CheckpointStore, thread_id: str, ns: str = "", **kw: Any) -> list[str]:
    tuples = await saver.list(Config(thread_id=thread_id, checkpoint_ns=ns), **kw)
    return [t.checkpoint.id for t in tuples]


# ------------------------------------------------------------------------------ put / read
async def test_put_then_get_tuple_reads_it_back(saver: CheckpointStore) -> None:
    first = checkpoint(messages=["hi"])
    cfg1 = await saver.put(first, META(source="input", step=0), Config(thread_id="t1"))
    assert cfg1 == Config(thread_id="t1", checkpoint_id=first.id, checkpoint_ns="")

    second = checkpoint(messages=["hi", "hello"])
    meta2 = META(source="loop", step=1, parents={"": first.id}, run_id="run-1", user="ada")
    cfg2 = await saver.put(second, meta2, cfg1)
    assert cfg2.checkpoint_id == second.id

    newest = await saver.get_tuple(Config(thread_id="t1"))
    assert newest is not None
    assert newest.config == cfg2
    assert newest.checkpoint.to_json() == second.to_json()
    assert newest.metadata == meta2
    assert newest.metadata.extra == {"user": "ada"}
    assert newest.parent_config == cfg1
    assert newest.pending_writes == []

    older = await saver.get_tuple(cfg1)
    assert older is not None
    assert older.checkpoint.to_json() == first.to_json()
    assert older.parent_config is None
    assert older.metadata == META(source="input", step=0)


async def test_default_checkpoint_and_metadata_are_valid(saver: CheckpointStore) -> None:
    cp = Checkpoint()
    cfg = await saver.put(cp, CheckpointMetadata(), Config(thread_id="defaults"))
    got = await saver.get_tuple(cfg)
    assert got is not None
    assert got.checkpoint.to_json() == cp.to_json()
    assert got.metadata == CheckpointMetadata()
    assert (await saver.get(cp.id)) is not None


JSON_VALUES: dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "zero": 0,
    "one_float": 1.0,
    "tenth": 0.1,
    "neg": -17,
    "big_int": 2**63 - 1,
    "small_int": -(2**63),
    "huge_float": 1.7976931348623157e308,
    "tiny_float": 5e-324,
    "empty_str": "",
    "unicode": 'ĉapelo 😀 \u0000 \u2028 \\ " / é',
    "empty_list": [],
    "empty_dict": {},
    "nested": {"a": [1, [2, [3, {"b": None}]]], "": {"": ""}, "k.with.dots/and/slash": [True]},
    "long": "x" * 100_000,
}


async def test_json_native_values_round_trip_exactly(saver: CheckpointStore) -> None:
    cp = Checkpoint(
        channel_values=JSON_VALUES,
        channel_versions={"a": 1, "b": "00000000000000000000000000000002.0.5", "c": 2.5},
        versions_seen={"node": {"a": 1}, "__input__": {}},
    )
    meta = META(source="update", step=7, parents={"": "p", "sub": "q"}, free=JSON_VALUES)
    cfg = await saver.put(cp, meta, Config(thread_id="json", checkpoint_ns="inner"))
    listed = await saver.list(Config(thread_id="json", checkpoint_ns="inner"))
    for got in (await saver.get_tuple(cfg), listed[0]):
        assert got is not None
        assert_same_json(got.checkpoint.to_json(), cp.to_json())
        assert_same_json(got.metadata.to_json(), meta.to_json())
    by_id = await saver.get(cp.id)
    assert by_id is not None
    assert_same_json(by_id.to_json(), cp.to_json())


async def test_unknown_thread_namespace_and_id_read_as_absent(saver: CheckpointStore) -> None:
    await saver.put(checkpoint(), META(), Config(thread_id="known"))
    assert await saver.get_tuple(Config(thread_id="unknown")) is None
    assert await saver.get_tuple(Config(thread_id="known", checkpoint_ns="nope")) is None
    assert await saver.get_tuple(Config("known", new_checkpoint_id())) is None
    assert await saver.get_tuple(Config("known", "not-a-uuid")) is None
    assert await saver.list(Config(thread_id="unknown")) == []
    assert await saver.get(new_checkpoint_id()) is None
    assert await saver.get("no-such-id") is None


# ------------------------------------------------------------------------------ ordering
async def test_list_is_newest_first_with_limit_and_before(saver: CheckpointStore) -> None:
    ids = await put_many(saver, "ordered", 12, chunk=5)
    newest_first = ids[::-1]
    assert await ids_of(saver, "ordered") == newest_first
    assert await ids_of(saver, "ordered", limit=3) == newest_first[:3]
    assert await ids_of(saver, "ordered", limit=100) == newest_first
    assert await ids_of(saver, "ordered", limit=0) == []
    before = Config(thread_id="ordered", checkpoint_id=ids[5])
    assert [t.checkpoint.id for t in await saver.list(before)] == ids[:5][::-1]
    assert [t.checkpoint.id for t in await saver.list(before, limit=2)] == [ids[4], ids[3]]
    oldest = Config(thread_id="ordered", checkpoint_id=ids[0])
    assert await saver.list(oldest) == []
    newest = await saver.get_tuple(Config(thread_id="ordered"))
    assert newest is not None and newest.checkpoint.id == ids[-1]
    # Each checkpoint's content is its own, not a neighbour's.
    for t in await saver.list(Config(thread_id="ordered")):
        assert t.checkpoint.channel_values["step"] == ids.index(t.checkpoint.id)


async def test_order_is_by_id_not_by_put_order(saver: CheckpointStore) -> None:
    ids = [new_checkpoint_id() for _ in range(6)]
    shuffled = ids[:]
    random.Random(3).shuffle(shuffled)
    for cid in shuffled:
        await saver.put(checkpoint(cid), META(), Config(thread_id="shuffled"))
    assert await ids_of(saver, "shuffled") == ids[::-1]
    newest = await saver.get_tuple(Config(thread_id="shuffled"))
    assert newest is not None and newest.checkpoint.id == ids[-1]


async def test_ids_without_time_are_ordered_by_put_time(saver: CheckpointStore) -> None:
    for cid in ["zeta", "alpha", "mid"]:
        await saver.put(checkpoint(cid), META(), Config(thread_id="named"))
    assert await ids_of(saver, "named") == ["mid", "alpha", "zeta"]
    t = await saver.get_tuple(Config(thread_id="named", checkpoint_id="alpha"))
    assert t is not None and t.checkpoint.id == "alpha"
    assert await ids_of(saver, "named", limit=1) == ["mid"]
    before = await saver.list(Config(thread_id="named", checkpoint_id="mid"))
    assert [x.checkpoint.id for x in before] == ["alpha", "zeta"]


async def test_namespaces_are_separate(saver: CheckpointStore) -> None:
    root = await put_many(saver, "ns", 3)
    sub = await put_many(saver, "ns", 2, checkpoint_ns="sub")
    other = await put_many(saver, "ns", 2, checkpoint_ns="sub:other")
    assert await ids_of(saver, "ns") == root[::-1]
    assert await ids_of(saver, "ns", "sub") == sub[::-1]
    assert await ids_of(saver, "ns", "sub:other") == other[::-1]
    got = await saver.get_tuple(Config(thread_id="ns", checkpoint_ns="sub"))
    assert got is not None and got.checkpoint.id == sub[-1]
    assert got.config.checkpoint_ns == "sub"
    # A checkpoint is found only in its own namespace.
    assert await saver.get_tuple(Config("ns", sub[0], "")) is None
    assert await saver.get_tuple(Config("ns", root[0], "sub")) is None


# ------------------------------------------------------------------------------ duplicates
async def test_putting_an_existing_id_replaces_it(saver: CheckpointStore) -> None:
    ids = await put_many(saver, "dup", 3)
    again = checkpoint(ids[1], version="second")
    await saver.put(again, META(source="update", step=99), Config(thread_id="dup"))
    listed = await saver.list(Config(thread_id="dup"))
    assert [t.checkpoint.id for t in listed] == ids[::-1]
    assert listed[1].checkpoint.channel_values == {"version": "second"}
    assert listed[1].metadata == META(source="update", step=99)
    one = await saver.get_tuple(Config("dup", ids[1]))
    assert one is not None and one.checkpoint.channel_values == {"version": "second"}
    by_id = await saver.get(ids[1])
    assert by_id is not None and by_id.channel_values == {"version": "second"}


async def test_replacing_an_id_without_time_keeps_its_place(saver: CheckpointStore) -> None:
    cfg = Config(thread_id="dup-named")
    for cid in ["first", "second", "third"]:
        await saver.put(checkpoint(cid, n=1), META(), cfg)
    await saver.put(checkpoint("first", n=2), META(step=5), cfg)
    listed = await saver.list(cfg)
    assert [t.checkpoint.id for t in listed] == ["third", "second", "first"]
    assert listed[2].checkpoint.channel_values == {"n": 2}
    newest = await saver.get_tuple(cfg)
    assert newest is not None and newest.checkpoint.id == "third"
    got = await saver.get("first")
    assert got is not None and got.channel_values == {"n": 2}


async def test_replacing_an_id_without_time_in_a_second_thread(saver: CheckpointStore) -> None:
    """An id without time that another thread owns is still replaced in place in this one."""
    await saver.put(checkpoint("n1", v=1), META(), Config(thread_id="A"))
    await saver.put(checkpoint("n1", v=2), META(), Config(thread_id="B"))
    await saver.put(checkpoint("n1", v=3), META(), Config(thread_id="B"))
    listed = await saver.list(Config(thread_id="B"))
    assert [t.checkpoint.channel_values for t in listed] == [{"v": 3}]
    await saver.put_writes("B", "", "n1", "task", "", [(0, "c", 1)])
    got = await saver.get_tuple(Config(thread_id="B"))
    assert got is not None and got.pending_writes == [("task", "c", 1)]
    by_id = await saver.get("n1")
    assert by_id is not None and by_id.channel_values == {"v": 1}


async def test_same_id_put_twice_concurrently_leaves_one_entry(saver: CheckpointStore) -> None:
    cid = new_checkpoint_id()
    cfg = Config(thread_id="race")
    await asyncio.gather(*(saver.put(checkpoint(cid, n=i), META(), cfg) for i in range(5)))
    listed = await saver.list(cfg)
    assert [t.checkpoint.id for t in listed] == [cid]
    assert listed[0].checkpoint.channel_values["n"] in range(5)


# ------------------------------------------------------------------------------ get by id
async def test_get_by_id_alone(saver: CheckpointStore) -> None:
    a = await put_many(saver, "thread-a", 3)
    b = await put_many(saver, "thread-b", 2, checkpoint_ns="x")
    for cid in a + b:
        got = await saver.get(cid)
        assert got is not None and got.id == cid
    got = await saver.get(b[0])
    assert got is not None and got.channel_values == {"step": 0}
    await saver.delete_thread("thread-a")
    assert [await saver.get(cid) for cid in a] == [None, None, None]
    assert await saver.get(b[1]) is not None
    await saver.prune("thread-b", 1)
    assert await saver.get(b[0]) is None
    assert await saver.get(b[1]) is not None


async def test_same_id_in_two_threads(saver: CheckpointStore) -> None:
    cid = new_checkpoint_id()
    await saver.put(checkpoint(cid, where="one"), META(), Config(thread_id="one"))
    await saver.put(checkpoint(cid, where="two"), META(), Config(thread_id="two"))
    for name in ("one", "two"):
        t = await saver.get_tuple(Config(thread_id=name))
        assert t is not None and t.checkpoint.channel_values == {"where": name}
    got = await saver.get(cid)
    assert got is not None and got.channel_values == {"where": "one"}
    # Deleting the copy must not remove the original's index entry.
    await saver.delete_thread("two")
    got = await saver.get(cid)
    assert got is not None and got.channel_values == {"where": "one"}
    assert await saver.get_tuple(Config(thread_id="one")) is not None


# ------------------------------------------------------------------------------ pending writes
async def test_pending_writes_come_back_with_their_checkpoint(saver: CheckpointStore) -> None:
    cfg = await saver.put(checkpoint(), META(), Config(thread_id="pw"))
    assert cfg.checkpoint_id is not None
    await saver.put_writes("pw", "", cfg.checkpoint_id, "task-b", "~b", [(0, "c", {"v": 1})])
    await saver.put_writes("pw", "", cfg.checkpoint_id, "task-a", "~a", [(1, "y", 2), (0, "x", 1)])
    await saver.put_writes("pw", "", cfg.checkpoint_id, "task-a", "~a", [(0, "x", "retried")])
    got = await saver.get_tuple(Config(thread_id="pw"))
    assert got is not None
    assert got.pending_writes == [("task-a", "x", 1), ("task-a", "y", 2), ("task-b", "c", {"v": 1})]
    listed = await saver.list(Config(thread_id="pw"))
    assert listed[0].pending_writes == got.pending_writes
    # A newer checkpoint starts without writes.
    await saver.put(checkpoint(), META(), cfg)
    newest = await saver.get_tuple(Config(thread_id="pw"))
    assert newest is not None and newest.pending_writes == []


async def test_special_writes_replace_and_regular_writes_keep_the_first(
    saver: CheckpointStore,
) -> None:
    cfg = await saver.put(checkpoint(), META(), Config(thread_id="merge"))
    cid = cfg.checkpoint_id
    assert cid is not None
    await saver.put_writes("merge", "", cid, "task", "", [(0, "c", "first"), (-1, "__error__", 1)])
    await saver.put_writes("merge", "", cid, "task", "", [(0, "c", "second"), (-1, "__error__", 2)])
    await saver.put_writes("merge", "", cid, "task", "", [])  # nothing to add: a no-op
    got = await saver.get_tuple(cfg)
    assert got is not None
    assert sorted(got.pending_writes) == [("task", "__error__", 2), ("task", "c", "first")]


async def test_newest_checkpoint_with_many_pending_writes(saver: CheckpointStore) -> None:
    """More writes than one small LIST page holds still all come back with the newest."""
    older = await put_many(saver, "many", 3)
    newest = older[-1]
    await asyncio.gather(
        *(
            saver.put_writes("many", "", newest, f"task-{i:03d}", "", [(0, "c", i), (1, "d", -i)])
            for i in range(100)
        )
    )
    got = await saver.get_tuple(Config(thread_id="many"))
    assert got is not None and got.checkpoint.id == newest
    assert len(got.pending_writes) == 200
    assert got.pending_writes[:2] == [("task-000", "c", 0), ("task-000", "d", 0)]
    assert got.pending_writes[-1] == ("task-099", "d", -99)
    listed = await saver.list(Config(thread_id="many"))
    assert [t.checkpoint.id for t in listed] == older[::-1]
    assert listed[0].pending_writes == got.pending_writes
    assert all(t.pending_writes == [] for t in listed[1:])


# ------------------------------------------------------------------------------ delete / prune
async def test_delete_thread_is_idempotent(saver: CheckpointStore) -> None:
    await put_many(saver, "gone", 4)
    await saver.delete_thread("gone")
    assert await saver.get_tuple(Config(thread_id="gone")) is None
    assert await saver.list(Config(thread_id="gone")) == []
    await saver.delete_thread("gone")
    await saver.delete_thread("never-existed")
    # The thread can be used again after a delete.
    ids = await put_many(saver, "gone", 2)
    assert await ids_of(saver, "gone") == ids[::-1]


async def test_delete_thread_removes_every_namespace_and_writes(saver: CheckpointStore) -> None:
    await put_many(saver, "all", 2)
    sub = await put_many(saver, "all", 2, checkpoint_ns="sub")
    await saver.put_writes("all", "sub", sub[-1], "t", "p", [(0, "c", 1)])
    await saver.delete_thread("all")
    assert await saver.list(Config(thread_id="all", checkpoint_ns="sub")) == []
    assert await saver.get_tuple(Config(thread_id="all", checkpoint_ns="sub")) is None
    # Re-putting the same id finds no stale writes.
    await saver.put(checkpoint(sub[-1]), META(), Config(thread_id="all", checkpoint_ns="sub"))
    got = await saver.get_tuple(Config(thread_id="all", checkpoint_ns="sub"))
    assert got is not None and got.pending_writes == []


NEIGHBOURS = ["a/b", "a b", "ab", "a%2Fb", "a/", "/a", "A", "a.", "a/b/c"]


async def test_deleting_a_thread_never_touches_similar_names(saver: CheckpointStore) -> None:
    kept = {name: await put_many(saver, name, 2) for name in NEIGHBOURS}
    await put_many(saver, "a", 3)
    await saver.delete_thread("a")
    assert await saver.list(Config(thread_id="a")) == []
    for name, ids in kept.items():
        assert await ids_of(saver, name) == ids[::-1], name
    assert await saver.prune("a/b", 0) == 2
    assert await ids_of(saver, "a/b/c") == kept["a/b/c"][::-1]
    assert await ids_of(saver, "a b") == kept["a b"][::-1]


async def test_prune_keeps_the_newest(saver: CheckpointStore) -> None:
    ids = await put_many(saver, "p", 10)
    assert await saver.prune("p", 3) == 7
    assert await ids_of(saver, "p") == ids[::-1][:3]
    newest = await saver.get_tuple(Config(thread_id="p"))
    assert newest is not None and newest.checkpoint.id == ids[-1]
    assert await saver.prune("p", 3) == 0
    assert await saver.prune("p", 1) == 2
    assert await ids_of(saver, "p") == [ids[-1]]


async def test_prune_keep_zero_removes_everything(saver: CheckpointStore) -> None:
    await put_many(saver, "p0", 5)
    assert await saver.prune("p0", 0) == 5
    assert await saver.list(Config(thread_id="p0")) == []
    assert await saver.get_tuple(Config(thread_id="p0")) is None
    assert await saver.prune("p0", 0) == 0


async def test_prune_keep_at_least_count_removes_nothing(saver: CheckpointStore) -> None:
    ids = await put_many(saver, "pk", 4)
    assert await saver.prune("pk", 4) == 0
    assert await saver.prune("pk", 5) == 0
    assert await saver.prune("pk", 10**9) == 0
    assert await ids_of(saver, "pk") == ids[::-1]


async def test_prune_unknown_thread_returns_zero(saver: CheckpointStore) -> None:
    assert await saver.prune("nobody", 0) == 0
    assert await saver.prune("nobody", 3) == 0


async def test_prune_counts_each_namespace(saver: CheckpointStore) -> None:
    root = await put_many(saver, "pns", 4)
    sub = await put_many(saver, "pns", 3, checkpoint_ns="sub")
    assert await saver.prune("pns", 2) == 3
    assert await ids_of(saver, "pns") == root[::-1][:2]
    assert await ids_of(saver, "pns", "sub") == sub[::-1][:2]


async def test_prune_drops_the_writes_of_pruned_checkpoints(saver: CheckpointStore) -> None:
    ids = await put_many(saver, "pw-prune", 3)
    for cid in ids:
        await saver.put_writes("pw-prune", "", cid, "task", "", [(0, "c", cid)])
    assert await saver.prune("pw-prune", 1) == 2
    # The same ids put again come back without their old writes.
    for cid in ids[:2]:
        await saver.put(checkpoint(cid), META(), Config(thread_id="pw-prune"))
        got = await saver.get_tuple(Config("pw-prune", cid))
        assert got is not None and got.pending_writes == [], cid
    newest = await saver.get_tuple(Config(thread_id="pw-prune"))
    assert newest is not None and newest.pending_writes == [("task", "c", ids[2])]


# ------------------------------------------------------------------------------ runs / copies
async def test_delete_for_runs_and_copy_thread(saver: CheckpointStore) -> None:
    cfg = Config(thread_id="runs")
    mine = [checkpoint() for _ in range(3)]
    for i, cp in enumerate(mine):
        await saver.put(cp, META(step=i, run_id="r1" if i != 1 else "r2"), cfg)
    await saver.copy_thread("runs", "runs-copy")
    assert await ids_of(saver, "runs-copy") == [cp.id for cp in mine[::-1]]
    await saver.delete_for_runs(["r1"])
    assert await ids_of(saver, "runs") == [mine[1].id]
    assert await ids_of(saver, "runs-copy") == [mine[1].id]
    await saver.delete_for_runs(["r1", "unknown-run"])
    assert await ids_of(saver, "runs") == [mine[1].id]


async def test_delete_for_runs_twice_with_a_put_between(
    saver: CheckpointStore,
) -> None:
    await saver.put(checkpoint(v=1), META(run_id="r1"), Config(thread_id="T"))
    kept = await saver.put(checkpoint(v=0), META(run_id="other"), Config(thread_id="T"))
    await saver.delete_for_runs(["r1"])
    await saver.put(checkpoint(v=2), META(run_id="r1"), Config(thread_id="T"))
    await saver.put(checkpoint(v=3), META(run_id="r1"), Config(thread_id="T2"))
    await saver.delete_for_runs(["r1"])
    assert [t.config for t in await saver.list(Config(thread_id="T"))] == [kept]
    assert await saver.list(Config(thread_id="T2")) == []


async def test_index_survives_removing_another_copy_in_the_same_thread(
    saver: CheckpointStore,
) -> None:
    for remove in ("prune", "runs"):
        thread = f"T-{remove}"
        x = new_checkpoint_id()
        await saver.put(checkpoint(x, where="sub"), META(), Config(thread, None, "sub"))
        await saver.put(checkpoint(x, where="root"), META(run_id="gone"), Config(thread))
        await saver.put(checkpoint(v="newer"), META(), Config(thread_id=thread))
        if remove == "prune":
            assert await saver.prune(thread, 1) == 1
        else:
            await saver.delete_for_runs(["gone"])
        alive = await saver.get_tuple(Config(thread, x, "sub"))
        assert alive is not None
        got = await saver.get(x)
        assert got is not None and got.channel_values == {"where": "sub"}, remove


# ------------------------------------------------------------------------------ hostile names


@pytest.mark.parametrize("name", HOSTILE, ids=lambda s: repr(s)[:24])
async def test_hostile_thread_ids_and_namespaces_round_trip(
    saver: CheckpointStore, name: str
) -> None:
    cfg = await saver.put(
        checkpoint(v=name), META(run_id=name), Config(thread_id=name, checkpoint_ns=name)
    )
    root = await saver.put(checkpoint(v="root"), META(), Config(thread_id=name))
    got = await saver.get_tuple(Config(thread_id=name, checkpoint_ns=name))
    assert got is not None
    assert got.config == cfg
    assert got.config.thread_id == name and got.config.checkpoint_ns == name
    assert got.checkpoint.channel_values == {"v": name}
    assert got.metadata.run_id == name
    listed = await saver.list(Config(thread_id=name, checkpoint_ns=name))
    assert [t.config for t in listed] == [cfg]
    assert [t.config for t in await saver.list(Config(thread_id=name))] == [root]
    assert cfg.checkpoint_id is not None
    assert await saver.get(cfg.checkpoint_id) is not None
    await saver.put_writes(name, name, cfg.checkpoint_id, name, name, [(0, name, name)])
    got = await saver.get_tuple(cfg)
    assert got is not None and got.pending_writes == [(name, name, name)]
    await saver.delete_thread(name)
    assert await saver.get_tuple(Config(thread_id=name, checkpoint_ns=name)) is None
    assert await saver.get_tuple(Config(thread_id=name)) is None
    assert await saver.get(cfg.checkpoint_id) is None


@pytest.mark.parametrize("cid", ["a/b", "..", "%", "x" * 500, "ĉ 😀", "id.json", "0" * 36])
async def test_hostile_checkpoint_ids_round_trip(saver: CheckpointStore, cid: str) -> None:
    cfg = await saver.put(checkpoint(cid, v=1), META(), Config(thread_id="hostile-ids"))
    assert cfg.checkpoint_id == cid
    got = await saver.get_tuple(cfg)
    assert got is not None and got.checkpoint.id == cid
    newest = await saver.get_tuple(Config(thread_id="hostile-ids"))
    assert newest is not None and newest.checkpoint.id == cid
    by_id = await saver.get(cid)
    assert by_id is not None and by_id.id == cid
    assert await saver.prune("hostile-ids", 0) == 1
    assert await saver.get(cid) is None


async def test_hostile_names_do_not_collide(saver: CheckpointStore) -> None:
    """Every hostile name is its own thread: none sees another's checkpoints."""
    names = [*HOSTILE[:12], "A/B", "a%2fb", "a%2Fb", "a_b", "a-b", "\u00e9", "e\u0301"]
    owned = {name: await put_many(saver, name, 1) for name in names}
    for name, ids in owned.items():
        assert await ids_of(saver, name) == ids, name


# ------------------------------------------------------------------------------ bad input
BAD_THREADS: list[Any] = ["", None, 3, b"bytes"]


@pytest.mark.parametrize("bad", BAD_THREADS, ids=repr)
async def test_bad_thread_id_is_a_clear_error(saver: CheckpointStore, bad: Any) -> None:
    calls = [
        saver.put(checkpoint(), META(), Config(thread_id=bad)),
        saver.get_tuple(Config(thread_id=bad)),
        saver.list(Config(thread_id=bad)),
        saver.delete_thread(bad),
        saver.prune(bad, 1),
    ]
    for call in calls:
        with pytest.raises(InvalidArgument, match="thread_id") as info:
            await call
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, S3SaverError)


@pytest.mark.parametrize("keep", [-1, True, 1.5, "3", None], ids=repr)
async def test_bad_keep_is_a_clear_error(saver: CheckpointStore, keep: Any) -> None:
    ids = await put_many(saver, "keep", 2)
    with pytest.raises(InvalidArgument, match="keep"):
        await saver.prune("keep", keep)
    assert await ids_of(saver, "keep") == ids[::-1]


@pytest.mark.parametrize("limit", [-1, True, 2.0, "5"], ids=repr)
async def test_bad_limit_is_a_clear_error(saver: CheckpointStore, limit: Any) -> None:
    with pytest.raises(InvalidArgument, match="limit"):
        await saver.list(Config(thread_id="t"), limit=limit)


async def test_other_bad_arguments(saver: CheckpointStore) -> None:
    cases: list[Any] = [
        saver.put({"id": "x"}, META(), Config(thread_id="t")),  # type: ignore[arg-type]
        saver.put(checkpoint(), {"source": "input"}, Config(thread_id="t")),  # type: ignore[arg-type]
        saver.put(Checkpoint(id=""), META(), Config(thread_id="t")),
        saver.put(checkpoint(), META(), Config(thread_id="t", checkpoint_ns=None)),  # type: ignore[arg-type]
        saver.get_tuple(Config(thread_id="t", checkpoint_ns=1)),  # type: ignore[arg-type]
        saver.get_tuple(Config(thread_id="t", checkpoint_id="")),
        saver.get(""),
        saver.get(None),  # type: ignore[arg-type]
        saver.copy_thread("t", "t"),
        saver.copy_thread("", "t"),
        saver.delete_for_runs("r1"),  # type: ignore[arg-type]
        saver.delete_for_runs([""]),
    ]
    for call in cases:
        with pytest.raises(InvalidArgument):
            await call
    assert await saver.list(Config(thread_id="t")) == []


UNENCODABLE: dict[str, Any] = {
    "set": {1, 2},
    "bytes": b"raw",
    "object": object(),
    "int_key": {1: "one"},
    "huge_int": 2**64,
    "nested_set": {"a": [{"b": {3}}]},
}


@pytest.mark.parametrize("where", ["channel_values", "metadata"])
@pytest.mark.parametrize("kind", list(UNENCODABLE))
async def test_unencodable_value_fails_before_writing(
    saver: CheckpointStore, kind: str, where: str
) -> None:
    good = await saver.put(checkpoint(ok=True), META(), Config(thread_id="enc"))
    value = UNENCODABLE[kind]
    cp = checkpoint(bad=value) if where == "channel_values" else checkpoint()
    meta = META(bad=value) if where == "metadata" else META()
    with pytest.raises(EncodingError) as info:
        await saver.put(cp, meta, Config(thread_id="enc"))
    assert isinstance(info.value, ValueError) and isinstance(info.value, S3SaverError)
    assert cp.id in str(info.value)
    assert [t.config for t in await saver.list(Config(thread_id="enc"))] == [good]
    assert await saver.get(cp.id) is None
    assert good.checkpoint_id is not None
    with pytest.raises(EncodingError):
        await saver.put_writes("enc", "", good.checkpoint_id, "task", "", [(0, "c", value)])
    got = await saver.get_tuple(good)
    assert got is not None and got.pending_writes == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=repr)
async def test_non_finite_floats_are_refused_not_stored_as_null(
    saver: CheckpointStore,
    value: float,
) -> None:
    with pytest.raises(EncodingError):
        await saver.put(checkpoint(x=value), META(), Config(thread_id="nan"))
    with pytest.raises(EncodingError):
        await saver.put(checkpoint(), META(score=value), Config(thread_id="nan"))
    assert await saver.list(Config(thread_id="nan")) == []
    cfg = await saver.put(checkpoint(), META(), Config(thread_id="nan"))
    assert cfg.checkpoint_id is not None
    with pytest.raises(EncodingError):
        await saver.put_writes("nan", "", cfg.checkpoint_id, "t", "", [(0, "c", [1.0, value])])
    got = await saver.get_tuple(cfg)
    assert got is not None and got.pending_writes == []


# ------------------------------------------------------------------------------ known limitations
LIMITATION = "known limitation of ids without time (docs/design.md, 'Known limitations')"


@pytest.mark.xfail(strict=True, reason=LIMITATION)
async def test_s3_concurrent_first_puts_of_an_id_without_time_leave_one_entry(
    endpoint: Endpoint, module_bucket: str
) -> None:
    async with s3_saver(endpoint, module_bucket, unique_prefix()) as saver:
        await _concurrent_first_puts(saver)


async def test_memory_concurrent_first_puts_of_an_id_without_time_leave_one_entry() -> None:
    await _concurrent_first_puts(MemoryCheckpointSaver())


async def _concurrent_first_puts(saver: CheckpointStore) -> None:
    await asyncio.gather(
        *(saver.put(checkpoint("named", n=i), META(), Config(thread_id="T")) for i in range(5))
    )
    listed = await saver.list(Config(thread_id="T"))
    assert [t.checkpoint.id for t in listed] == ["named"]
    await asyncio.gather(
        *(
            saver.put(checkpoint("named2", n=i), META(), Config(thread_id=f"T{i % 2}"))
            for i in range(6)
        )
    )
    for thread in ("T0", "T1"):
        listed = await saver.list(Config(thread_id=thread))
        assert [t.checkpoint.id for t in listed] == ["named2"], thread
    got = await saver.get("named2")
    assert got is not None and got.channel_values["n"] in range(6)


@pytest.mark.xfail(strict=True, reason=LIMITATION)
async def test_s3_copy_thread_onto_an_existing_id_without_time_replaces_it(
    endpoint: Endpoint, module_bucket: str
) -> None:
    async with s3_saver(endpoint, module_bucket, unique_prefix()) as saver:
        await _copy_onto_existing(saver)


async def test_memory_copy_thread_onto_an_existing_id_without_time_replaces_it() -> None:
    await _copy_onto_existing(MemoryCheckpointSaver())


async def _copy_onto_existing(saver: CheckpointStore) -> None:
    await saver.put(checkpoint("n1", src="A"), META(), Config(thread_id="A"))
    await saver.put(checkpoint("n1", src="B"), META(), Config(thread_id="B"))
    await saver.copy_thread("A", "B")
    listed = await saver.list(Config(thread_id="B"))
    assert [t.checkpoint.channel_values for t in listed] == [{"src": "A"}]
    assert await saver.prune("B", 0) == 1

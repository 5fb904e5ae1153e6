"""One thread of 2,500 checkpoints (three LIST pages), next to one of 10.

Ordering across page boundaries, and request economy: reading the newest checkpoint of a thread
(what resuming an agent does) must cost the same number of S3 requests and round trips at 10 and
at 2,500 checkpoints. The tests share one populated bucket; the destructive one runs last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from s3saver import CheckpointMetadata, Config, S3CheckpointSaver
from s3saver.ids import new_checkpoint_id
from tests.helpers import (
    Counts,
    RequestCounter,
    all_keys,
    checkpoint,
    create_bucket,
    put_many,
    raw_client,
    s3_saver,
)
from tests.s3env import Endpoint

BIG = 2_500
SMALL = 10
pytestmark = pytest.mark.slow


@dataclass
class Populated:
    saver: S3CheckpointSaver
    counter: RequestCounter
    endpoint: Endpoint
    bucket: str
    ids: dict[str, list[str]]  # thread -> ids, oldest first


@pytest.fixture(scope="module")
async def populated(endpoint: Endpoint) -> AsyncIterator[Populated]:
    bucket = await create_bucket(endpoint)
    saver = s3_saver(endpoint, bucket, "scale")
    counter = RequestCounter().attach_saver(saver)
    async with saver:
        ids = {
            "big": await put_many(saver, "big", BIG),
            "small": await put_many(saver, "small", SMALL),
        }
        # The newest checkpoint of each thread has pending writes from two tasks, as it
        # would after an interrupted step.
        for thread, thread_ids in ids.items():
            for task in ("task-1", "task-2"):
                await saver.put_writes(thread, "", thread_ids[-1], task, "", [(0, "c", task)])
        yield Populated(saver, counter, endpoint, bucket, ids)


async def test_list_returns_all_2500_newest_first(populated: Populated) -> None:
    saver, ids = populated.saver, populated.ids["big"]
    listed, cost = await populated.counter.measure(saver.list(Config(thread_id="big")))
    assert [t.checkpoint.id for t in listed] == ids[::-1]
    assert [t.checkpoint.channel_values["step"] for t in listed] == list(range(BIG))[::-1]
    assert listed[0].pending_writes == [("task-1", "c", "task-1"), ("task-2", "c", "task-2")]
    assert all(t.pending_writes == [] for t in listed[1:])
    # The thread really spans several LIST pages (S3 returns at most 1,000 keys a page).
    assert cost.ops("ListObjectsV2") >= 3
    print(f"\nlist of {BIG}: {cost}")


async def test_list_before_and_limit_across_page_boundaries(populated: Populated) -> None:
    saver, ids = populated.saver, populated.ids["big"]
    for pivot in (1, 999, 1000, 1001, 1500, 2499):
        before = Config(thread_id="big", checkpoint_id=ids[pivot])
        page = await saver.list(before, limit=3)
        assert [t.checkpoint.id for t in page] == ids[max(0, pivot - 3) : pivot][::-1], pivot
    rest = await saver.list(Config(thread_id="big", checkpoint_id=ids[1010]), limit=30)
    assert [t.checkpoint.id for t in rest] == ids[980:1010][::-1]
    assert await saver.list(Config(thread_id="big", checkpoint_id=ids[0])) == []
    top = await saver.list(Config(thread_id="big"), limit=10)
    assert [t.checkpoint.id for t in top] == ids[::-1][:10]


async def test_get_by_id_anywhere_in_a_long_thread(populated: Populated) -> None:
    saver, ids = populated.saver, populated.ids["big"]
    for position in (0, 1, 999, 1000, 1777, BIG - 1):
        got = await saver.get(ids[position])
        assert got is not None and got.channel_values == {"step": position}
        t = await saver.get_tuple(Config(thread_id="big", checkpoint_id=ids[position]))
        assert t is not None and t.checkpoint.channel_values == {"step": position}


async def measure_both(populated: Populated, what: str) -> tuple[Counts, Counts]:
    """The cost of one read at 10 and at 2,500 checkpoints."""
    saver, counter = populated.saver, populated.counter
    costs = []
    for thread in ("small", "big"):
        ids = populated.ids[thread]
        if what == "newest":
            t, cost = await counter.measure(saver.get_tuple(Config(thread_id=thread)))
            assert t is not None and t.checkpoint.id == ids[-1]
            assert len(t.pending_writes) == 2
        elif what == "by_config_id":
            t, cost = await counter.measure(saver.get_tuple(Config(thread, ids[-2])))
            assert t is not None and t.checkpoint.id == ids[-2]
        elif what == "get":
            cp, cost = await counter.measure(saver.get(ids[-3]))
            assert cp is not None and cp.id == ids[-3]
        elif what == "list10":
            listed, cost = await counter.measure(saver.list(Config(thread_id=thread), limit=10))
            assert [x.checkpoint.id for x in listed] == ids[::-1][:10]
        else:
            assert what == "put"
            cp = checkpoint(new_checkpoint_id(), step=-1)
            cfg = Config(thread_id=thread, checkpoint_id=ids[-1])
            _, cost = await counter.measure(saver.put(cp, CheckpointMetadata(), cfg))
            ids.append(cp.id)
        costs.append(cost)
    print(f"\n{what}: at {SMALL}: {costs[0]}; at {BIG}: {costs[1]}")
    return costs[0], costs[1]


async def test_newest_checkpoint_costs_the_same_at_10_and_2500(populated: Populated) -> None:
    small, big = await measure_both(populated, "newest")
    assert big == small
    assert big.round_trips <= 2
    assert big.ops("ListObjectsV2") == 1


@pytest.mark.parametrize("what", ["by_config_id", "get", "list10", "put"])
async def test_other_operations_cost_the_same_at_10_and_2500(
    populated: Populated, what: str
) -> None:
    small, big = await measure_both(populated, what)
    assert big == small
    if what == "put":
        assert big.round_trips == 1
    if what == "get":
        assert big.round_trips <= 3


async def test_prune_and_delete_a_long_thread(populated: Populated) -> None:
    """Destructive, so last: batches of more than 1,000 keys on the delete path."""
    saver, ids = populated.saver, populated.ids["big"]
    total = len(ids)
    assert await saver.prune("big", total) == 0
    assert await saver.prune("big", 5) == total - 5
    listed = await saver.list(Config(thread_id="big"))
    assert [t.checkpoint.id for t in listed] == ids[::-1][:5]
    for cid in (ids[0], ids[1000], ids[-6]):
        assert await saver.get(cid) is None
    assert await saver.get(ids[-1]) is not None
    await saver.delete_thread("big")
    await saver.delete_thread("big")
    async with raw_client(populated.endpoint) as client:
        left = await all_keys(client, populated.bucket, saver.layout.thread_prefix("big"))
        index_left = len(await all_keys(client, populated.bucket, f"{saver.prefix}index/"))
    assert left == []
    assert index_left == len(populated.ids["small"])
    small = await saver.list(Config(thread_id="small"))
    assert [t.checkpoint.id for t in small] == populated.ids["small"][::-1]

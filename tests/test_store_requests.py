"""The request counter the request-economy tests rely on, checked against known patterns, and
the per-operation costs of the store on a small thread."""

from __future__ import annotations

import asyncio

from s3saver import CheckpointMetadata, Config
from tests.helpers import RequestCounter, checkpoint, put_many, raw_client, s3_saver, unique_prefix
from tests.s3env import Endpoint


async def test_counter_tells_concurrent_from_sequential_requests(
    endpoint: Endpoint, bucket: str
) -> None:
    async with raw_client(endpoint) as client:
        counter = RequestCounter().attach_client(client)
        _, together = await counter.measure(
            asyncio.gather(*(client.head_bucket(Bucket=bucket) for _ in range(3)))
        )
        assert (together.requests, together.round_trips) == (3, 1)

        async def one_after_another() -> None:
            for _ in range(3):
                await client.list_objects_v2(Bucket=bucket, MaxKeys=1)

        _, sequential = await counter.measure(one_after_another())
        assert (sequential.requests, sequential.round_trips) == (3, 3)
        assert sequential.by_operation == {"ListObjectsV2": 3}


async def test_costs_of_single_operations(endpoint: Endpoint, bucket: str) -> None:
    async with s3_saver(endpoint, bucket, unique_prefix()) as saver:
        counter = RequestCounter().attach_saver(saver)
        ids = await put_many(saver, "t", 3)
        cfg = Config(thread_id="t", checkpoint_id=ids[-1])
        _, put = await counter.measure(saver.put(checkpoint(), CheckpointMetadata(), cfg))
        assert put.round_trips == 1 and put.ops("PutObject") == put.requests
        _, writes = await counter.measure(
            saver.put_writes("t", "", ids[-1], "task", "", [(0, "c", 1), (1, "d", 2)])
        )
        assert (writes.requests, writes.round_trips) == (1, 1)
        _, newest = await counter.measure(saver.get_tuple(Config(thread_id="t")))
        assert newest.round_trips <= 2 and newest.ops("ListObjectsV2") == 1
        _, empty = await counter.measure(saver.get_tuple(Config(thread_id="nobody")))
        assert (empty.requests, empty.round_trips) == (1, 1)
        _, delete = await counter.measure(saver.delete_thread("nobody"))
        assert delete.by_operation == {"ListObjectsV2": 1}

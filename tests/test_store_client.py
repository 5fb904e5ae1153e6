"""How a saver is made and connected: ``from_url``, prefixes, a caller's own client, lazy
opening, closing and reopening, one saver across several ``asyncio.run`` calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from s3saver import Config, InvalidArgument, S3CheckpointSaver
from tests.helpers import (
    RequestCounter,
    all_keys,
    create_bucket,
    put_many,
    raw_client,
    s3_saver,
    shared_session,
    unique_prefix,
)
from tests.s3env import Endpoint


@pytest.fixture(scope="module")
async def module_bucket(endpoint: Endpoint) -> str:
    return await create_bucket(endpoint)


def url_options(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint.url,
        "region_name": endpoint.region,
        "session": shared_session(),
    }


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket/some/prefix", "bucket", "some/prefix/"),
        ("s3://bucket/some/prefix/", "bucket", "some/prefix/"),
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://my.bucket-1/p", "my.bucket-1", "p/"),
    ],
)
def test_from_url_parses_bucket_and_prefix(url: str, bucket: str, prefix: str) -> None:
    saver = S3CheckpointSaver.from_url(url)
    assert saver.bucket == bucket
    assert saver.prefix == prefix


@pytest.mark.parametrize(
    "url",
    ["http://bucket/prefix", "s3://", "s3:///prefix", "bucket/prefix", "s3://b/p?x=1", "", 3],
)
def test_from_url_rejects_other_urls(url: Any) -> None:
    with pytest.raises(InvalidArgument):
        S3CheckpointSaver.from_url(url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bucket": ""},
        {"bucket": None},
        {"bucket": "b", "prefix": 3},
        {"bucket": "b", "max_connections": 0},
    ],
    ids=repr,
)
def test_bad_constructor_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        S3CheckpointSaver(**kwargs)


async def test_from_url_saver_writes_under_its_prefix(
    endpoint: Endpoint, module_bucket: str
) -> None:
    prefix = f"{unique_prefix('url')}/nested"
    async with S3CheckpointSaver.from_url(
        f"s3://{module_bucket}/{prefix}", **url_options(endpoint)
    ) as saver:
        ids = await put_many(saver, "t", 3)
    async with s3_saver(endpoint, module_bucket, prefix + "/") as same:
        listed = await same.list(Config(thread_id="t"))
        assert [t.checkpoint.id for t in listed] == ids[::-1]
    async with raw_client(endpoint) as client:
        keys = await all_keys(client, module_bucket, prefix.split("/")[0])
    assert keys and all(k.startswith(prefix + "/") for k in keys)


async def test_prefixes_are_isolated(endpoint: Endpoint, module_bucket: str) -> None:
    base = unique_prefix("iso")
    names = [base, f"{base}/b", f"{base}b", f"{base}/threads"]
    savers = [s3_saver(endpoint, module_bucket, name) for name in names]
    try:
        owned = [await put_many(s, "t", 2) for s in savers]
        for saver, ids in zip(savers, owned, strict=True):
            assert [t.checkpoint.id for t in await saver.list(Config(thread_id="t"))] == ids[::-1]
            for other in owned:
                if other is not ids:
                    assert await saver.get(other[0]) is None
        await savers[0].delete_thread("t")
        assert await savers[0].list(Config(thread_id="t")) == []
        for saver, ids in zip(savers[1:], owned[1:], strict=True):
            assert [t.checkpoint.id for t in await saver.list(Config(thread_id="t"))] == ids[::-1]
        assert await savers[0].prune("t", 0) == 0
    finally:
        for saver in savers:
            await saver.close()


@pytest.mark.parametrize("prefix", ["with space/ü", "100%/a|b", "a+b=c&d", "~tilde/!bang"])
async def test_prefixes_with_special_characters(
    endpoint: Endpoint, module_bucket: str, prefix: str
) -> None:
    prefix = f"{unique_prefix()}/{prefix}"
    async with s3_saver(endpoint, module_bucket, prefix) as saver:
        ids = await put_many(saver, "t/1", 3)
        assert [t.checkpoint.id for t in await saver.list(Config(thread_id="t/1"))] == ids[::-1]
        got = await saver.get(ids[0])
        assert got is not None and got.id == ids[0]
        assert await saver.prune("t/1", 1) == 2
        await saver.delete_thread("t/1")
        assert await saver.list(Config(thread_id="t/1")) == []
    async with raw_client(endpoint) as client:
        left = await all_keys(client, module_bucket, prefix + "/threads/")
    assert left == []


@pytest.fixture
async def own_client(endpoint: Endpoint) -> AsyncIterator[Any]:
    async with raw_client(endpoint) as client:
        yield client


async def test_a_callers_client_is_used_and_not_closed(own_client: Any, module_bucket: str) -> None:
    counter = RequestCounter().attach_client(own_client)
    prefix = unique_prefix("own")
    async with S3CheckpointSaver(module_bucket, prefix, client=own_client) as saver:
        counter.reset()  # count from here: open() may have checked the store
        assert await saver.transport.client() is own_client
        ids = await put_many(saver, "t", 2)
        listed = await saver.list(Config(thread_id="t"))
        assert [t.checkpoint.id for t in listed] == ids[::-1]
    assert counter.snapshot().ops("PutObject") == 4
    assert counter.snapshot().ops("ListObjectsV2") >= 1
    # Still open and usable after the saver is closed.
    resp = await own_client.list_objects_v2(Bucket=module_bucket, Prefix=prefix)
    assert resp["KeyCount"] > 0
    saver2 = S3CheckpointSaver(module_bucket, prefix, client=own_client)
    got = await saver2.get_tuple(Config(thread_id="t"))
    assert got is not None and got.checkpoint.id == ids[-1]
    await saver2.close()
    await own_client.head_bucket(Bucket=module_bucket)


async def test_lazy_open_close_and_reopen(endpoint: Endpoint, module_bucket: str) -> None:
    saver = s3_saver(endpoint, module_bucket, unique_prefix("lazy"))
    ids = await put_many(saver, "t", 2)  # no `async with`: opened on first use
    await saver.close()
    await saver.close()  # closing twice is harmless
    got = await saver.get_tuple(Config(thread_id="t"))  # reopened on use after close
    assert got is not None and got.checkpoint.id == ids[-1]
    await saver.close()


def test_one_saver_across_several_event_loops(endpoint: Endpoint, module_bucket: str) -> None:
    """A saver made once (as at Lambda import time) and used under asyncio.run per call."""
    saver = s3_saver(endpoint, module_bucket, unique_prefix("loops"))
    seen: list[str] = []

    async def invocation(n: int) -> None:
        ids = await put_many(saver, "t", 1)
        seen.extend(ids)
        listed = await saver.list(Config(thread_id="t"))
        assert [t.checkpoint.id for t in listed] == seen[::-1], n

    for n in range(3):
        asyncio.run(invocation(n))
    assert len(seen) == 3

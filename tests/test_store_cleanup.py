"""What deletes leave in the bucket: nothing of a deleted thread (index entries and run
markers included), and no index entry for a pruned checkpoint."""

from __future__ import annotations

import pytest

from s3saver import CheckpointMetadata, Config, S3CheckpointSaver
from tests.helpers import (
    all_keys,
    checkpoint,
    create_bucket,
    put_many,
    raw_client,
    s3_saver,
    unique_prefix,
)
from tests.s3env import Endpoint

NAMES = ["plain", "a/b", "x" * 500, "ü 😀 %", ".."]


@pytest.fixture(scope="module")
async def module_bucket(endpoint: Endpoint) -> str:
    return await create_bucket(endpoint)


async def keys_of(endpoint: Endpoint, bucket: str, saver: S3CheckpointSaver) -> list[str]:
    async with raw_client(endpoint) as client:
        return await all_keys(client, bucket, saver.prefix)


@pytest.mark.parametrize("name", NAMES, ids=lambda s: repr(s)[:16])
async def test_delete_thread_leaves_nothing_of_the_thread(
    endpoint: Endpoint, module_bucket: str, name: str
) -> None:
    async with s3_saver(endpoint, module_bucket, unique_prefix("clean")) as saver:
        # A neighbour whose objects must all survive.
        await put_many(saver, "neighbour", 2)
        kept = checkpoint(v=1)
        await saver.put(kept, CheckpointMetadata(run_id="run-n"), Config(thread_id="neighbour"))
        before = await keys_of(endpoint, module_bucket, saver)
        for ns in ("", "sub", name):
            ids = await put_many(saver, name, 3, checkpoint_ns=ns)
            await saver.put_writes(name, ns, ids[-1], "task", "", [(0, "c", 1)])
            await saver.put(
                checkpoint(),
                CheckpointMetadata(run_id=name),
                Config(thread_id=name, checkpoint_ns=ns),
            )
        assert len(await keys_of(endpoint, module_bucket, saver)) > len(before)
        await saver.delete_thread(name)
        assert await keys_of(endpoint, module_bucket, saver) == before
        got = await saver.get(kept.id)
        assert got is not None


async def test_prune_leaves_no_index_entry_behind(endpoint: Endpoint, module_bucket: str) -> None:
    async with s3_saver(endpoint, module_bucket, unique_prefix("clean")) as saver:
        ids = await put_many(saver, "t", 6)
        sub = await put_many(saver, "t", 3, checkpoint_ns="sub")
        for cid in ids:
            await saver.put_writes("t", "", cid, "task", "", [(0, "c", cid)])
        assert await saver.prune("t", 2) == 5
        keys = await keys_of(endpoint, module_bucket, saver)
        index = [k for k in keys if k.startswith(f"{saver.prefix}index/")]
        live = ids[-2:] + sub[-2:]
        assert sorted(index) == sorted(saver.layout.index_key(cid) for cid in live)
        writes = [k for k in keys if ".w/" in k]
        assert len(writes) == 2

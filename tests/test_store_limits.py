"""Objects above the single-PUT limit are refused by name before anything is written."""

from __future__ import annotations

import pytest

from s3saver import CheckpointMetadata, Config, InvalidArgument, ObjectTooLarge
from tests.helpers import all_keys, checkpoint, raw_client, s3_saver
from tests.s3env import Endpoint


async def test_oversized_checkpoint_is_refused_and_nothing_is_written(
    endpoint: Endpoint, bucket: str
) -> None:
    limit = 64 * 1024
    async with s3_saver(endpoint, bucket, "big", max_object_bytes=limit) as saver:
        small = await saver.put(checkpoint(blob="x" * 1000), CheckpointMetadata(), Config("t"))
        big = checkpoint(blob="x" * (2 * limit))
        with pytest.raises(ObjectTooLarge) as info:
            await saver.put(big, CheckpointMetadata(), Config("t"))
        assert isinstance(info.value, InvalidArgument)
        assert big.id in str(info.value) and info.value.limit == limit
        assert info.value.size > 2 * limit
        with pytest.raises(ObjectTooLarge):
            await saver.put_writes(
                "t", "", small.checkpoint_id, "task", "", [(0, "c", "y" * limit)]
            )
        async with raw_client(endpoint) as raw:
            keys = await all_keys(raw, bucket, "big/")
        assert not any(big.id in k for k in keys)
        assert not any(".w/" in k for k in keys)
        latest = await saver.get_tuple(Config("t"))
        assert latest is not None and latest.checkpoint.id == small.checkpoint_id

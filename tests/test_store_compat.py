"""Stores that break the layout's assumptions are refused at open, by name, with the reason.

* SeaweedFS lists keys in directory order, not UTF-8 byte order (the newest-first layout would
  silently serve the wrong checkpoint);
* a store that ignores conditional writes (here: moto behind a proxy that drops If-None-Match
  and If-Match, like s3rver does) would let concurrent writers overwrite each other;
* S3 Express directory buckets do not list in order at all.
"""

from __future__ import annotations

import uuid

import aioboto3
import pytest

from s3saver import CheckpointMetadata, Config, S3CheckpointSaver, UnsupportedStore
from tests.faultproxy import FaultProxy, _Message
from tests.helpers import checkpoint, raw_client
from tests.s3env import Endpoint, MotoProcess
from tests.servers import SeaweedProcess, start_or_skip


class IgnoresConditions(FaultProxy):
    """A real HTTP hop that forgets conditional headers before they reach the store."""

    async def _forward(self, req: _Message, method: str):  # type: ignore[no-untyped-def]
        req.headers = [
            (k, v) for k, v in req.headers if k.lower() not in ("if-none-match", "if-match")
        ]
        return await super()._forward(req, method)


def _session(endpoint: Endpoint) -> aioboto3.Session:
    return aioboto3.Session(
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        region_name=endpoint.region,
    )


async def test_store_listing_out_of_byte_order_is_refused_at_open() -> None:
    server = start_or_skip(SeaweedProcess)
    try:
        endpoint = server.endpoint()
        bucket = f"compat-{uuid.uuid4().hex[:8]}"
        async with raw_client(endpoint) as raw:
            await raw.create_bucket(Bucket=bucket)
        saver = S3CheckpointSaver(
            bucket, "p", endpoint_url=endpoint.url, session=_session(endpoint)
        )
        with pytest.raises(UnsupportedStore) as info:
            await saver.open()
        await saver.close()
        assert bucket in str(info.value) and "byte order" in str(info.value)
        assert info.value.operation == "ListObjectsV2"
        async with raw_client(endpoint) as raw:
            leftovers = await raw.list_objects_v2(Bucket=bucket)
        assert leftovers.get("KeyCount", 0) == 0  # the probe cleaned up after itself
    finally:
        server.stop()


async def test_store_ignoring_conditional_writes_is_refused_unless_opted_out() -> None:
    # Its own moto server: the proxy rewrites signed headers, which only an unauthenticated
    # test server accepts, so this test does not depend on S3SAVER_TEST_ENDPOINT.
    server = MotoProcess()
    bucket = f"compat-{uuid.uuid4().hex[:8]}"
    try:
        async with raw_client(Endpoint(server.url, "t", "t", "us-east-1", True)) as raw:
            await raw.create_bucket(Bucket=bucket)
        async with IgnoresConditions(server.url, seed=0) as proxy:
            saver = S3CheckpointSaver(bucket, "p", endpoint_url=proxy.url, region_name="us-east-1")
            with pytest.raises(UnsupportedStore) as info:
                await saver.open()
            await saver.close()
            assert "conditional" in str(info.value) and bucket in str(info.value)
            # The documented fallback: plain writes, said out loud by the caller.
            async with S3CheckpointSaver(
                bucket, "p", endpoint_url=proxy.url, region_name="us-east-1",
                conditional_writes=False,
            ) as fallback:  # fmt: skip
                cfg = await fallback.put(checkpoint(n=1), CheckpointMetadata(), Config("t"))
                latest = await fallback.get_tuple(Config("t"))
                assert latest is not None and latest.config.checkpoint_id == cfg.checkpoint_id
    finally:
        server.stop()


async def test_directory_bucket_is_refused_before_any_request() -> None:
    saver = S3CheckpointSaver("agents--use1-az4--x-s3", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(UnsupportedStore, match="directory buckets"):
        await saver.open()
    await saver.close()

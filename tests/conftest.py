from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import aioboto3
import pytest

from tests.s3env import Endpoint, MotoProcess

# Fake credentials for moto, set before any client reads the chain.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Never let a developer's own profile or real endpoints leak into the suite.
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def endpoint() -> Iterator[Endpoint]:
    external = os.environ.get("S3SAVER_TEST_ENDPOINT")
    if external:
        yield Endpoint(
            url=external,
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            is_moto=False,
        )
        return
    server = MotoProcess()
    try:
        yield Endpoint(
            url=server.url,
            access_key=os.environ["AWS_ACCESS_KEY_ID"],
            secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            region=os.environ["AWS_DEFAULT_REGION"],
            is_moto=True,
        )
    finally:
        server.stop()


@pytest.fixture
async def bucket(endpoint: Endpoint) -> AsyncIterator[str]:
    """A fresh, empty bucket per test, so tests never see each other's objects."""
    name = f"s3saver-test-{uuid.uuid4().hex[:20]}"
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
    ) as client:
        await client.create_bucket(Bucket=name)
    yield name

"""Shared helpers of the store's test suite: request counting, savers, raw bucket access."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import aioboto3

from s3saver import (
    Checkpoint,
    CheckpointMetadata,
    Config,
    MemoryCheckpointSaver,
    S3CheckpointSaver,
)
from s3saver.base import CheckpointStore
from s3saver.ids import new_checkpoint_id
from tests.s3env import Endpoint

T = TypeVar("T")


@dataclass(frozen=True)
class Counts:
    """What a :class:`RequestCounter` saw during one measured block."""

    requests: int
    round_trips: int
    by_operation: dict[str, int]

    def ops(self, name: str) -> int:
        return self.by_operation.get(name, 0)


class RequestCounter:
    """Counts HTTP requests per S3 operation and sequential round trips.

    ``before-send.s3.<Operation>`` fires once per HTTP attempt (retries included) and
    ``response-received.s3.<Operation>`` once its answer (or error) is back. A new round trip
    starts whenever a request is sent while no other request is in flight, so requests issued
    together count as one round trip and a request waiting on another's answer as a new one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self.requests = 0
        self.round_trips = 0
        self.by_operation: Counter[str] = Counter()

    # botocore handlers must return None: a before-send result would be taken as the response.
    def on_send(self, event_name: str = "", **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        with self._lock:
            if self._in_flight == 0:
                self.round_trips += 1
            self._in_flight += 1
            self.requests += 1
            self.by_operation[op] += 1

    def on_received(self, **_: Any) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def attach_saver(self, saver: S3CheckpointSaver) -> RequestCounter:
        """Count every request of every client this saver opens (now or later)."""
        saver.transport.add_listener("before-send.s3", self.on_send)
        saver.transport.add_listener("response-received.s3", self.on_received)
        return self

    def attach_client(self, client: Any) -> RequestCounter:
        client.meta.events.register("before-send.s3", self.on_send)
        client.meta.events.register("response-received.s3", self.on_received)
        return self

    def reset(self) -> None:
        """Start counting afresh; call it only while no request is in flight. (A request whose
        task was cancelled never reports back, so in-flight bookkeeping restarts here too.)"""
        with self._lock:
            self._in_flight = 0
            self.requests = 0
            self.round_trips = 0
            self.by_operation = Counter()

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(self.requests, self.round_trips, dict(self.by_operation))

    async def measure(self, aw: Awaitable[T]) -> tuple[T, Counts]:
        """Run ``aw`` with fresh counts; returns its result and what it cost."""
        self.reset()
        result = await aw
        return result, self.snapshot()


_session: aioboto3.Session | None = None


def shared_session() -> aioboto3.Session:
    """One session for the whole run: clients of one session share loaded service models."""
    global _session
    if _session is None:
        _session = aioboto3.Session()
    return _session


def s3_saver(
    endpoint: Endpoint, bucket: str, prefix: str = "", **options: Any
) -> S3CheckpointSaver:
    """A saver on the test endpoint (credentials from the environment conftest sets)."""
    options.setdefault("session", shared_session())
    return S3CheckpointSaver(
        bucket,
        prefix,
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        **options,
    )


def unique_prefix(label: str = "t") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


async def create_bucket(endpoint: Endpoint) -> str:
    """A new empty bucket (for fixtures shared by a module; tests then use their own prefix)."""
    name = f"s3saver-test-{uuid.uuid4().hex[:20]}"
    async with raw_client(endpoint) as client:
        await client.create_bucket(Bucket=name)
    return name


@asynccontextmanager
async def raw_client(endpoint: Endpoint) -> AsyncIterator[Any]:
    """A plain aioboto3 client on the test endpoint, for looking behind the saver's back."""
    async with shared_session().client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
    ) as client:
        yield client


async def all_keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key in the bucket under ``prefix``, in listing order."""
    keys: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", ()))
    return keys


def checkpoint(checkpoint_id: str | None = None, **channel_values: Any) -> Checkpoint:
    """A checkpoint with the given channel values (and a fresh time-ordered id by default)."""
    return Checkpoint(
        id=checkpoint_id or new_checkpoint_id(),
        channel_values=dict(channel_values),
        channel_versions={name: 1 for name in channel_values},
    )


async def put_many(
    saver: CheckpointStore,
    thread_id: str,
    count: int,
    *,
    checkpoint_ns: str = "",
    chunk: int = 64,
    make: Callable[[int], Checkpoint] | None = None,
) -> list[str]:
    """Put ``count`` checkpoints (ids in time order), ``chunk`` at a time concurrently.

    Returns the ids oldest first. Each checkpoint records its position in ``channel_values``
    and ``metadata.step`` so that reads can be checked against it.
    """
    cps = [make(i) if make is not None else checkpoint(step=i) for i in range(count)]
    config = Config(thread_id=thread_id, checkpoint_ns=checkpoint_ns)
    for start in range(0, count, chunk):
        batch: Sequence[Checkpoint] = cps[start : start + chunk]
        await asyncio.gather(
            *(
                saver.put(cp, CheckpointMetadata(source="loop", step=start + j), config)
                for j, cp in enumerate(batch)
            )
        )
    return [cp.id for cp in cps]


def memory_saver() -> MemoryCheckpointSaver:
    return MemoryCheckpointSaver()


# Thread ids, namespaces and other names that must be safe as parts of keys.
HOSTILE = [
    "a/b",
    "../..",
    "..",
    ".",
    "%2F",
    "%",
    "100%",
    "a|b",
    "with space",
    " ",
    "ĉapelo-日本語-😀",
    "ada@example.com",
    "x" * 500,
    "é" * 500,
    "\t\n",
    "~thread.json",
    "!shared.json",
    "ns",
    "ns/x",
    "threads/a",
    "a.json",
    "-",
    "?a=b&c#d",
    "\\back\\slash",
    "'\"",
    "\x00nul",
]

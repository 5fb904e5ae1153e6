"""LangGraph's official conformance suite, all capabilities, for both savers, on the S3 test bed.

The suite calls only async methods; to prove the sync half, ``S3Saver`` is wrapped in an
adapter whose async methods call the sync ones (from a worker thread, as LangGraph does).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

pytest.importorskip("langgraph.checkpoint.conformance")

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate

from s3saver.langgraph import AsyncS3Saver, S3Saver
from tests.s3env import Endpoint

EXPECTED_TESTS = 81


class SyncThroughAsync(BaseCheckpointSaver[str]):
    """Exposes S3Saver's *sync* methods under the async names the suite calls."""

    def __init__(self, inner: S3Saver) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def aget_tuple(self, config: RunnableConfig) -> Any:
        return await self._call(self.inner.get_tuple, config)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for item in await self._call(lambda: list(self.inner.list(config, **kwargs))):
            yield item

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return await self._call(self.inner.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Any, writes: Sequence[Any], task_id: str, task_path: str = ""
    ) -> None:
        await self._call(self.inner.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call(self.inner.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._call(self.inner.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._call(self.inner.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._call(self.inner.prune, thread_ids, strategy=strategy)

    def get_next_version(self, current: Any, channel: None = None) -> str:
        return self.inner.get_next_version(current, channel)


def _options(endpoint: Endpoint) -> dict[str, Any]:
    return {"endpoint_url": endpoint.url, "region_name": endpoint.region}


def _report(report: Any) -> tuple[int, int, list[str]]:
    passed = failed = 0
    failures: list[str] = []
    for name, result in report.results.items():
        passed += result.tests_passed
        failed += result.tests_failed
        failures.extend(f"{name}: {f}" for f in (result.failures or []))
    return passed, failed, failures


async def test_async_saver_passes_conformance(endpoint: Endpoint, bucket: str) -> None:
    @checkpointer_test(name="AsyncS3Saver")
    async def factory() -> AsyncIterator[AsyncS3Saver]:
        async with AsyncS3Saver(bucket, "conformance-async", **_options(endpoint)) as saver:
            yield saver

    report = await validate(factory)
    passed, failed, failures = _report(report)
    assert failures == [] and failed == 0
    assert passed == EXPECTED_TESTS
    assert report.passed_all()


async def test_sync_saver_passes_conformance(endpoint: Endpoint, bucket: str) -> None:
    @checkpointer_test(name="S3Saver (sync methods)")
    async def factory() -> AsyncIterator[SyncThroughAsync]:
        saver = S3Saver(bucket, "conformance-sync", **_options(endpoint))
        with saver:
            yield SyncThroughAsync(saver)

    report = await validate(factory)
    passed, failed, failures = _report(report)
    assert failures == [] and failed == 0
    assert passed == EXPECTED_TESTS
    assert report.passed_all()

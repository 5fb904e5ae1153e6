"""The two LangGraph savers: same storage, different home for the S3 client.

``AsyncS3Saver`` runs its async methods on the caller's event loop (one client per loop, so a
saver made at import time keeps working under ``asyncio.run`` per invocation). ``S3Saver``
runs everything on a private loop thread, so sync code and LangGraph's worker threads share one
client; its async methods hop to that thread too, which keeps one client across
``asyncio.run`` invocations as well. The sync twins of ``AsyncS3Saver`` use the same kind of
private loop thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from ..loop import LoopThread
from ..store import S3CheckpointSaver
from ._base import S3SaverBase, _thread_id


class AsyncS3Saver(S3SaverBase):
    """LangGraph checkpointer on S3 for async graphs (``ainvoke``, ``astream``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runner = LoopThread("s3saver-sync")

    @classmethod
    @contextlib.asynccontextmanager
    async def from_url(cls, url: str, **options: Any) -> AsyncIterator[AsyncS3Saver]:
        """``async with AsyncS3Saver.from_url("s3://bucket/prefix") as saver: ...``"""
        saver = cls(store=S3CheckpointSaver.from_url(url, **options))
        async with saver:
            yield saver

    async def __aenter__(self) -> AsyncS3Saver:
        opener = getattr(self.store, "open", None)
        if opener is not None:
            await opener()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        closer = getattr(self.store, "close", None)
        if closer is not None:
            await closer()

    # ---- async ------------------------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for item in self._iter(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.store.delete_thread(_thread_id(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.store.delete_for_runs(run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.store.copy_thread(_thread_id(source_thread_id), _thread_id(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._prune(thread_ids, strategy)

    # ---- sync twins -----------------------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._runner.run(self._get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return iter(self._runner.run(self._list(config, filter, before, limit)))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._runner.run(self._put(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._runner.run(self._put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._runner.run(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._runner.run(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._runner.run(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._runner.run(self._prune(thread_ids, strategy))


class S3Saver(AsyncS3Saver):
    """LangGraph checkpointer on S3 for sync graphs (``invoke``, ``stream``); thread-safe.

    Every call, sync or async, runs on the saver's own loop thread with one S3 client.
    """

    @classmethod
    @contextlib.contextmanager
    def from_url(cls, url: str, **options: Any) -> Iterator[S3Saver]:  # type: ignore[override]
        """``with S3Saver.from_url("s3://bucket/prefix") as saver: ...``"""
        saver = cls(store=S3CheckpointSaver.from_url(url, **options))
        with saver:
            yield saver

    def __enter__(self) -> S3Saver:
        opener = getattr(self.store, "open", None)
        if opener is not None:
            self._runner.run(opener())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the S3 client and stop the loop thread; the saver reopens them if used again."""
        closer = getattr(self.store, "close", None)
        if closer is not None:
            self._runner.run(closer())
        self._runner.stop()

    async def __aenter__(self) -> S3Saver:
        opener = getattr(self.store, "open", None)
        if opener is not None:
            await self._runner.run_async(opener())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        closer = getattr(self.store, "close", None)
        if closer is not None:
            await self._runner.run_async(closer())

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._runner.run_async(self._get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in await self._runner.run_async(self._list(config, filter, before, limit)):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._runner.run_async(self._put(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._runner.run_async(self._put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._runner.run_async(self.store.delete_thread(_thread_id(thread_id)))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._runner.run_async(self.store.delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._runner.run_async(
            self.store.copy_thread(_thread_id(source_thread_id), _thread_id(target_thread_id))
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._runner.run_async(self._prune(thread_ids, strategy))

    # sync methods: inherited; they already run on the loop thread, and the S3Saver's async
    # methods above do too, so the sync twins' adelete_* calls must not hop again.
    def delete_thread(self, thread_id: str) -> None:
        self._runner.run(self.store.delete_thread(_thread_id(thread_id)))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._runner.run(self.store.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._runner.run(
            self.store.copy_thread(_thread_id(source_thread_id), _thread_id(target_thread_id))
        )

"""The two LangGraph savers: same storage, different home for the S3 client.

Every saver owns a private loop thread with one long-lived S3 client. Sync methods (plain code,
LangGraph's worker threads) run there. Async methods run on the caller's event loop only when
the saver was opened on that loop (``async with AsyncS3Saver(...)``); otherwise they hop to the
private loop. That is what makes the serverless pattern work: a saver created at import time and
used under ``asyncio.run`` once per invocation keeps one client across invocations, instead of
opening one per loop and leaving it behind when the loop closes.

``AsyncS3Saver`` is for async code: ``async with`` binds its client to the running loop.
``S3Saver`` is for sync code: ``with`` opens its client on the private loop, and all its calls,
sync or async, run there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

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

T = TypeVar("T")


class AsyncS3Saver(S3SaverBase):
    """LangGraph checkpointer on S3 for async graphs (``ainvoke``, ``astream``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._runner = LoopThread("s3saver", on_stop=self._close_store)
        self._home: asyncio.AbstractEventLoop | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def from_url(cls, url: str, **options: Any) -> AsyncIterator[AsyncS3Saver]:
        """``async with AsyncS3Saver.from_url("s3://bucket/prefix") as saver: ...``"""
        saver = cls(store=S3CheckpointSaver.from_url(url, **options))
        async with saver:
            yield saver

    async def _open_store(self) -> None:
        opener = getattr(self.store, "open", None)
        if opener is not None:
            await opener()

    async def _close_store(self) -> None:
        closer = getattr(self.store, "close", None)
        if closer is not None:
            await closer()

    async def __aenter__(self) -> AsyncS3Saver:
        await self._open_store()
        self._home = asyncio.get_running_loop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._home = None
        await self._close_store()

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run here if this loop opened the saver, else on the saver's own loop thread."""
        if asyncio.get_running_loop() is self._home:
            return await coro
        return await self._runner.run_async(coro)

    # ---- async ------------------------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._on_loop(self._get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if asyncio.get_running_loop() is self._home:
            async for item in self._iter(config, filter=filter, before=before, limit=limit):
                yield item
        else:
            for item in await self._runner.run_async(self._list(config, filter, before, limit)):
                yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._on_loop(self._put(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._on_loop(self._put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._on_loop(self.store.delete_thread(_thread_id(thread_id)))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._on_loop(self.store.delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._on_loop(
            self.store.copy_thread(_thread_id(source_thread_id), _thread_id(target_thread_id))
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._on_loop(self._prune(thread_ids, strategy))

    # ---- sync twins: always on the saver's own loop thread ------------------------------------
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
        self._runner.run(self.store.delete_thread(_thread_id(thread_id)))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._runner.run(self.store.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._runner.run(
            self.store.copy_thread(_thread_id(source_thread_id), _thread_id(target_thread_id))
        )

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._runner.run(self._prune(thread_ids, strategy))

    def close(self) -> None:
        """Close the private loop thread's client and stop the thread (reopened if used again)."""
        self._runner.stop()


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
        self._runner.run(self._open_store())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> S3Saver:
        await self._runner.run_async(self._open_store())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.close)

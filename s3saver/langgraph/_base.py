"""What the sync and async LangGraph savers share: conversion between LangGraph's shapes and the
store's records, done once.

Values go through the saver's own ``serde`` at call time (``self.serde``, never captured), so a
shallow copy made by ``with_allowlist`` uses its own stricter serializer. Typed bytes are kept
as ``[type_tag, base64]`` inside the JSON objects. Metadata stays plain JSON where it can, so
that list filters can read it without decoding the checkpoint.
"""

from __future__ import annotations

import base64
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..base import CheckpointStore
from ..codec import check_encodable
from ..errors import EncodingError, InvalidArgument
from ..records import CheckpointRecord
from ..store import S3CheckpointSaver

STRATEGIES = ("keep_latest", "delete")


def _thread_id(value: object) -> str:
    """LangGraph users pass ints and UUIDs as thread ids too; they are stored as text."""
    if isinstance(value, bool) or value is None:
        raise InvalidArgument(f"thread_id must be a non-empty string, got {value!r}")
    text = value if isinstance(value, str) else str(value)
    if not text:
        raise InvalidArgument("thread_id must be a non-empty string, got ''")
    return text


def _configurable(config: RunnableConfig) -> dict[str, Any]:
    conf = config.get("configurable") if isinstance(config, dict) else None
    if not isinstance(conf, dict):
        raise InvalidArgument(f"config has no 'configurable' mapping: {config!r}")
    return conf


class S3SaverBase(BaseCheckpointSaver[str]):
    """LangGraph checkpointer over an s3saver store (S3 by default)."""

    store: CheckpointStore

    def __init__(
        self,
        bucket: str | None = None,
        prefix: str = "",
        *,
        store: CheckpointStore | None = None,
        serde: SerializerProtocol | None = None,
        **options: Any,
    ) -> None:
        super().__init__(serde=serde)
        if store is None:
            if bucket is None:
                raise InvalidArgument("a bucket (or a store) is required")
            store = S3CheckpointSaver(bucket, prefix, **options)
        elif bucket is not None or options:
            raise InvalidArgument("pass either a store or bucket/options, not both")
        self.store = store

    # ---- conversion ---------------------------------------------------------------------------
    def _typed(self, value: Any) -> list[str]:
        tag, data = self.serde.dumps_typed(value)
        return [tag, base64.b64encode(data).decode("ascii")]

    def _untyped(self, pair: Any) -> Any:
        tag, data = pair
        return self.serde.loads_typed((tag, base64.b64decode(data)))

    def _record(
        self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata
    ) -> CheckpointRecord:
        conf = _configurable(config)
        meta = dict(get_checkpoint_metadata(config, metadata))
        body: dict[str, Any] = {"typed": self._typed(checkpoint)}
        try:
            check_encodable(meta, what="metadata")
        except EncodingError:
            # Keep what JSON can hold for filters; the exact metadata travels typed.
            body["typed_metadata"] = self._typed(meta)
            meta = {k: v for k, v in meta.items() if _json_native(v)}
        return CheckpointRecord(
            thread_id=_thread_id(conf.get("thread_id")),
            checkpoint_ns=str(conf.get("checkpoint_ns") or ""),
            checkpoint_id=checkpoint["id"],
            parent_id=conf.get("checkpoint_id"),
            checkpoint=body,
            metadata=meta,
        )

    def _tuple(self, record: CheckpointRecord) -> CheckpointTuple:
        body = record.checkpoint
        if not isinstance(body, dict) or "typed" not in body:
            raise InvalidArgument(
                f"checkpoint {record.checkpoint_id!r} of thread {record.thread_id!r} was not "
                "written by the LangGraph saver"
            )
        metadata = (
            self._untyped(body["typed_metadata"]) if "typed_metadata" in body else record.metadata
        )

        def conf(checkpoint_id: str) -> RunnableConfig:
            return {
                "configurable": {
                    "thread_id": record.thread_id,
                    "checkpoint_ns": record.checkpoint_ns,
                    "checkpoint_id": checkpoint_id,
                }
            }

        return CheckpointTuple(
            config=conf(record.checkpoint_id),
            checkpoint=self._untyped(body["typed"]),
            metadata=cast(CheckpointMetadata, metadata),
            parent_config=conf(record.parent_id) if record.parent_id else None,
            pending_writes=[(w.task_id, w.channel, self._untyped(w.value)) for w in record.writes],
        )

    # ---- the operations, as coroutines (both classes run these) ------------------------------
    async def _get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = _configurable(config)
        record = await self.store.get_record(
            _thread_id(conf.get("thread_id")),
            str(conf.get("checkpoint_ns") or ""),
            get_checkpoint_id(config),
        )
        return None if record is None else self._tuple(record)

    async def _iter(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if limit is not None and limit <= 0:
            return
        before_id = get_checkpoint_id(before) if before else None
        if config is not None:
            conf = _configurable(config)
            thread_id: str | None = _thread_id(conf.get("thread_id"))
            ns = conf.get("checkpoint_ns")
            if get_checkpoint_id(config):
                # A config naming one checkpoint lists at most that checkpoint.
                one = await self._get_tuple(config)
                if (
                    one is not None
                    and (before_id is None or one.checkpoint["id"] < before_id)
                    and all(one.metadata.get(k) == v for k, v in (filter or {}).items())
                ):
                    yield one
                return
        else:
            thread_id, ns = None, None
        async for record in self.store.iter_records(
            thread_id,
            None if ns is None else str(ns),
            before_id=before_id,
            limit=limit,
            metadata_filter=filter,
        ):
            yield self._tuple(record)

    async def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> list[CheckpointTuple]:
        return [t async for t in self._iter(config, filter=filter, before=before, limit=limit)]

    async def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        record = self._record(config, checkpoint, metadata)
        await self.store.put_record(record)
        return {
            "configurable": {
                "thread_id": record.thread_id,
                "checkpoint_ns": record.checkpoint_ns,
                "checkpoint_id": record.checkpoint_id,
            }
        }

    async def _put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> None:
        conf = _configurable(config)
        checkpoint_id = conf.get("checkpoint_id")
        if not checkpoint_id:
            raise InvalidArgument("put_writes needs a config with a checkpoint_id")
        entries = [
            (WRITES_IDX_MAP.get(channel, idx), channel, self._typed(value))
            for idx, (channel, value) in enumerate(writes)
        ]
        await self.store.put_writes(
            _thread_id(conf.get("thread_id")),
            str(conf.get("checkpoint_ns") or ""),
            str(checkpoint_id),
            task_id,
            task_path,
            entries,
        )

    async def _prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy not in STRATEGIES:
            raise InvalidArgument(f"unknown prune strategy {strategy!r}; use one of {STRATEGIES}")
        for thread_id in thread_ids:
            if strategy == "delete":
                await self.store.delete_thread(_thread_id(thread_id))
            else:
                await self.store.prune(_thread_id(thread_id), 1)

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """Versions compare as strings: a zero-padded counter, then a random tie-breaker."""
        if current is None:
            counter = 0
        elif isinstance(current, (int, float)):
            counter = int(current)
        else:
            counter = int(str(current).split(".", 1)[0])
        return f"{counter + 1:032d}.{random.random():016f}"


def _json_native(value: Any) -> bool:
    try:
        check_encodable(value, what="value")
    except EncodingError:
        return False
    return True

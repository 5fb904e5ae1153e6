"""The contract, implemented once over any backend's record operations.

``S3CheckpointSaver`` and ``MemoryCheckpointSaver`` differ only in how they store records; the
specification's methods (argument checks, typed conversion, newest-first semantics) live here so
the two cannot drift apart. The LangGraph adapter uses the record operations directly.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterable
from typing import Any

from .codec import check_encodable
from .errors import InvalidArgument
from .layout import require_name
from .model import Checkpoint, CheckpointMetadata, CheckpointTuple, Config
from .records import CheckpointRecord


def require_ns(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"checkpoint_ns must be a string, got {value!r}")
    return value


def require_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"checkpoint id must be a non-empty string, got {value!r}")
    return value


def require_keep(keep: object) -> int:
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise InvalidArgument(f"keep must be a non-negative integer, got {keep!r}")
    return keep


def require_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise InvalidArgument(f"limit must be a non-negative integer or None, got {limit!r}")
    return limit


class CheckpointStore(abc.ABC):
    """Record-level operations every backend provides, plus the specification's methods."""

    # ---- record operations (backend-specific) ----------------------------------------------
    @abc.abstractmethod
    async def put_record(self, record: CheckpointRecord) -> None:
        """Store a checkpoint record (its ``writes`` are ignored); replaces the same id."""

    @abc.abstractmethod
    async def put_writes(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        task_path: str,
        writes: list[tuple[int, str, Any]],
    ) -> None:
        """Store one task's pending writes for a checkpoint, which may not exist yet."""

    @abc.abstractmethod
    async def get_record(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
    ) -> CheckpointRecord | None:
        """One checkpoint with its pending writes; the newest of the namespace without an id."""

    @abc.abstractmethod
    def iter_records(
        self,
        thread_id: str | None,
        checkpoint_ns: str | None,
        *,
        before_id: str | None = None,
        limit: int | None = None,
        metadata_filter: dict[str, Any] | None = None,
    ) -> AsyncIterator[CheckpointRecord]:
        """Checkpoints newest first per namespace (``None``: every thread / every namespace)."""

    @abc.abstractmethod
    async def get_by_id(self, checkpoint_id: str) -> CheckpointRecord | None:
        """The checkpoint an id names, found without knowing its thread (no pending writes)."""

    @abc.abstractmethod
    async def _delete_thread(self, thread_id: str) -> None:
        """Remove every object of a thread, all namespaces, writes and index entries."""

    @abc.abstractmethod
    async def _prune(self, thread_id: str, keep: int) -> int:
        """Keep the ``keep`` newest checkpoints of each namespace; return how many were removed."""

    @abc.abstractmethod
    async def _delete_for_runs(self, run_ids: list[str]) -> None:
        """Remove every checkpoint (with its writes) whose metadata names one of the runs."""

    @abc.abstractmethod
    async def _copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread to another, keeping checkpoint ids."""

    # ---- the specification's methods ----------------------------------------------------------
    async def put(
        self, checkpoint: Checkpoint, metadata: CheckpointMetadata, config: Config
    ) -> Config:
        """Save a checkpoint; ``config.checkpoint_id``, if set, names its parent."""
        if not isinstance(checkpoint, Checkpoint):
            raise InvalidArgument(
                f"checkpoint must be a Checkpoint, got {type(checkpoint).__name__}"
            )
        if not isinstance(metadata, CheckpointMetadata):
            raise InvalidArgument(
                f"metadata must be a CheckpointMetadata, got {type(metadata).__name__}"
            )
        thread_id = require_name("thread_id", config.thread_id)
        ns = require_ns(config.checkpoint_ns)
        checkpoint_id = require_id(checkpoint.id)
        body = checkpoint.to_json()
        meta = metadata.to_json()
        check_encodable(body, what=f"checkpoint {checkpoint_id!r}")
        check_encodable(meta, what=f"metadata of checkpoint {checkpoint_id!r}")
        await self.put_record(
            CheckpointRecord(
                thread_id=thread_id,
                checkpoint_ns=ns,
                checkpoint_id=checkpoint_id,
                parent_id=config.checkpoint_id,
                checkpoint=body,
                metadata=meta,
            )
        )
        return Config(thread_id=thread_id, checkpoint_id=checkpoint_id, checkpoint_ns=ns)

    async def get_tuple(self, config: Config) -> CheckpointTuple | None:
        thread_id = require_name("thread_id", config.thread_id)
        ns = require_ns(config.checkpoint_ns)
        cid = None if config.checkpoint_id is None else require_id(config.checkpoint_id)
        record = await self.get_record(thread_id, ns, cid)
        return None if record is None else to_tuple(record)

    async def list(self, config: Config, limit: int | None = None) -> list[CheckpointTuple]:
        """The thread's checkpoints in ``config.checkpoint_ns``, newest first.

        ``config.checkpoint_id``, if set, lists only checkpoints older than that one.
        """
        thread_id = require_name("thread_id", config.thread_id)
        ns = require_ns(config.checkpoint_ns)
        limit = require_limit(limit)
        if limit == 0:
            return []
        before = None if config.checkpoint_id is None else require_id(config.checkpoint_id)
        return [
            to_tuple(r)
            async for r in self.iter_records(thread_id, ns, before_id=before, limit=limit)
        ]

    async def get(self, checkpoint_id: str) -> Checkpoint | None:
        """A checkpoint by id alone, through the index; None if unknown or since deleted."""
        record = await self.get_by_id(require_id(checkpoint_id))
        return None if record is None else Checkpoint.from_json(record.checkpoint)

    async def delete_thread(self, thread_id: str) -> None:
        """Remove the thread entirely; deleting an unknown thread is not an error."""
        await self._delete_thread(require_name("thread_id", thread_id))

    async def prune(self, thread_id: str, keep: int) -> int:
        """Keep the ``keep`` newest checkpoints (per namespace); return how many were removed."""
        return await self._prune(require_name("thread_id", thread_id), require_keep(keep))

    async def delete_for_runs(self, run_ids: Iterable[str]) -> None:
        """Remove every checkpoint, with its writes, made by one of these runs."""
        if isinstance(run_ids, str):
            raise InvalidArgument("run_ids must be a collection of run ids, not one string")
        await self._delete_for_runs([require_name("run_id", r) for r in run_ids])

    async def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a whole thread (every namespace, parent chain and pending writes), same ids."""
        source = require_name("source thread_id", source_thread_id)
        target = require_name("target thread_id", target_thread_id)
        if source == target:
            raise InvalidArgument(f"cannot copy thread {source!r} onto itself")
        await self._copy_thread(source, target)


def to_tuple(record: CheckpointRecord) -> CheckpointTuple:
    config = Config(record.thread_id, record.checkpoint_id, record.checkpoint_ns)
    parent = (
        None
        if record.parent_id is None
        else Config(record.thread_id, record.parent_id, record.checkpoint_ns)
    )
    return CheckpointTuple(
        config=config,
        checkpoint=Checkpoint.from_json(record.checkpoint),
        metadata=CheckpointMetadata.from_json(record.metadata),
        parent_config=parent,
        pending_writes=[(w.task_id, w.channel, w.value) for w in record.writes],
    )

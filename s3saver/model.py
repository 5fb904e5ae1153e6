"""The data types of the checkpoint contract.

They mirror the specification's ``Checkpoint``, ``CheckpointMetadata``, ``Config`` and
``CheckpointTuple``. Values inside them must be JSON-native (dict with str keys, list, str, int,
float, bool, None): that is what survives a round trip through the bucket exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .ids import new_checkpoint_id

JSON = Any
"""A JSON-native value."""


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class Config:
    """Where a checkpoint lives: thread, namespace and (optionally) one checkpoint id.

    In ``put`` the ``checkpoint_id`` names the *parent* of the checkpoint being saved; the
    returned config names the saved checkpoint itself.
    """

    thread_id: str | None = None
    checkpoint_id: str | None = None
    checkpoint_ns: str = ""


@dataclass
class Checkpoint:
    """One snapshot of an agent's state. ``Checkpoint()`` alone is valid: fresh id, current time."""

    v: int = 1
    id: str = field(default_factory=new_checkpoint_id)
    ts: str = field(default_factory=_now_iso)
    channel_values: dict[str, JSON] = field(default_factory=dict)
    channel_versions: dict[str, JSON] = field(default_factory=dict)
    versions_seen: dict[str, dict[str, JSON]] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        return {
            "v": self.v,
            "id": self.id,
            "ts": self.ts,
            "channel_values": self.channel_values,
            "channel_versions": self.channel_versions,
            "versions_seen": self.versions_seen,
        }

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> Checkpoint:
        return cls(
            v=data["v"],
            id=data["id"],
            ts=data["ts"],
            channel_values=data["channel_values"],
            channel_versions=data["channel_versions"],
            versions_seen=data["versions_seen"],
        )


class CheckpointMetadata:
    """Why a checkpoint was made: ``source``, ``step``, ``parents``, ``run_id`` and free keys.

    Free keys are kept as given (``CheckpointMetadata(step=2, user="ada")``) and round-trip
    with the checkpoint; ``extra`` holds them.
    """

    __slots__ = ("extra", "parents", "run_id", "source", "step")

    def __init__(
        self,
        source: str = "input",
        step: int = -1,
        parents: dict[str, str] | None = None,
        run_id: str | None = None,
        **extra: JSON,
    ) -> None:
        self.source = source
        self.step = step
        self.parents: dict[str, str] = dict(parents or {})
        self.run_id = run_id
        self.extra: dict[str, JSON] = extra

    def to_json(self) -> dict[str, JSON]:
        data: dict[str, JSON] = dict(self.extra)
        data.update(source=self.source, step=self.step, parents=self.parents)
        if self.run_id is not None:
            data["run_id"] = self.run_id
        return data

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> CheckpointMetadata:
        rest = dict(data)
        return cls(
            source=rest.pop("source", "input"),
            step=rest.pop("step", -1),
            parents=rest.pop("parents", None),
            run_id=rest.pop("run_id", None),
            **rest,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckpointMetadata):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"CheckpointMetadata({self.to_json()!r})"


@dataclass
class CheckpointTuple:
    """A checkpoint with where it lives, why it was made, its parent and its pending writes."""

    config: Config
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: Config | None = None
    pending_writes: list[tuple[str, str, JSON]] = field(default_factory=list)

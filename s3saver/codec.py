"""JSON bodies of s3saver's objects (orjson), and their validation on the way back in.

Encoding happens before any request is sent, so a value orjson cannot encode fails the call with
nothing written. Decoding checks the object's shape, so a foreign or damaged object is reported
with its key instead of surfacing as a KeyError deep inside a caller.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from .errors import CorruptObject, EncodingError
from .records import CheckpointRecord

FORMAT = 1
"""Version of the object format; a reader refuses objects of a newer format by name."""

JSONObject = dict[str, Any]


def _dumps(value: Any, what: str) -> bytes:
    """orjson, plus the one check it lacks: NaN and infinities would silently become null."""
    try:
        data = orjson.dumps(value)
    except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
        raise EncodingError(f"{what} cannot be stored as JSON: {exc}") from None
    if b"null" in data:  # cheap pre-check: only then walk the value for non-finite floats
        _reject_non_finite(value, what)
    return data


def _reject_non_finite(value: Any, what: str) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise EncodingError(f"{what} cannot be stored as JSON: {item!r} is not a JSON number")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def encode(kind: str, body: JSONObject, *, what: str) -> bytes:
    """Serialize one object body; ``what`` says in the error which user value was at fault."""
    return _dumps({"format": FORMAT, "kind": kind, **body}, what)


def check_encodable(value: Any, *, what: str) -> None:
    _dumps(value, what)


def decode(kind: str, key: str, data: bytes, required: tuple[str, ...]) -> JSONObject:
    """Parse and check an object body of the given kind; CorruptObject names the key if not."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CorruptObject(key, f"not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise CorruptObject(key, "not a JSON object")
    fmt = body.get("format")
    if fmt != FORMAT:
        if isinstance(fmt, int) and fmt > FORMAT:
            raise CorruptObject(key, f"written in format {fmt}; this s3saver reads format {FORMAT}")
        raise CorruptObject(key, "not an s3saver object (no format field)")
    if body.get("kind") != kind:
        raise CorruptObject(key, f"expected a {kind} object, found {body.get('kind')!r}")
    missing = [name for name in required if name not in body]
    if missing:
        raise CorruptObject(key, f"{kind} object lacks {', '.join(missing)}")
    return body


CHECKPOINT_FIELDS = ("id", "ns", "parent_id", "checkpoint", "metadata")
WRITES_FIELDS = ("task_id", "task_path", "writes")
INDEX_FIELDS = ("id", "thread_id", "ns", "key")
THREAD_FIELDS = ("thread_id",)
RUN_FIELDS = ("run_id", "thread_id")


_BODY_HEAD = b'{"format":1,"kind":"checkpoint","metadata":'


def encode_checkpoint(record: CheckpointRecord) -> bytes:
    """Metadata first, at a fixed offset, so a ranged GET of the head can answer a filter."""
    what = f"checkpoint {record.checkpoint_id!r}"
    meta = _dumps(record.metadata, f"metadata of {what}")
    rest = _dumps(
        {
            "id": record.checkpoint_id,
            "ns": record.checkpoint_ns,
            "parent_id": record.parent_id,
            "checkpoint": record.checkpoint,
        },
        what,
    )
    return _BODY_HEAD + meta + b"," + rest[1:]


def metadata_from_head(head: bytes) -> dict[str, Any] | None:
    """Parse the metadata from the first bytes of a checkpoint body; None if cut short."""
    if not head.startswith(_BODY_HEAD):
        return None
    try:
        text = head[len(_BODY_HEAD) :].decode("utf-8", "ignore")
        meta, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None

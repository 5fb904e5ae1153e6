"""s3saver: durable AI-agent checkpoints in any S3-compatible bucket.

``S3CheckpointSaver`` keeps checkpoints as JSON objects in a bucket, newest first by key, so an
agent can stop anywhere and resume exactly where it was. ``MemoryCheckpointSaver`` is the same
contract in memory. The LangGraph checkpointer lives in :mod:`s3saver.langgraph` (extra
``s3saver[langgraph]``) so that importing s3saver never imports LangGraph.
"""

from .errors import (
    AccessDenied,
    BucketNotFound,
    ConflictError,
    CorruptObject,
    EncodingError,
    EndpointUnreachable,
    InvalidArgument,
    ObjectTooLarge,
    S3SaverError,
    StorageError,
    UnsupportedStore,
)
from .integrity import Problem, Report, repair, verify
from .memory import MemoryCheckpointSaver
from .model import Checkpoint, CheckpointMetadata, CheckpointTuple, Config
from .store import S3CheckpointSaver

__all__ = [
    "AccessDenied",
    "BucketNotFound",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "Config",
    "ConflictError",
    "CorruptObject",
    "EncodingError",
    "EndpointUnreachable",
    "InvalidArgument",
    "MemoryCheckpointSaver",
    "ObjectTooLarge",
    "Problem",
    "Report",
    "S3CheckpointSaver",
    "S3SaverError",
    "StorageError",
    "UnsupportedStore",
    "repair",
    "verify",
]
__version__ = "0.1.0"

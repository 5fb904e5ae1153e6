"""The package's exceptions.

Every error s3saver raises derives from :class:`S3SaverError`, so callers can catch the whole
family at once. Errors a caller causes with bad arguments also derive from ``ValueError`` so that
generic argument-checking code keeps working. Storage errors carry the bucket, the operation and,
where one is involved, the key: an operator reading a log line should not need a traceback to
know which object failed.
"""

from __future__ import annotations


class S3SaverError(Exception):
    """Base class of every error raised by s3saver."""


class InvalidArgument(S3SaverError, ValueError):
    """A caller passed something s3saver cannot accept (empty thread id, negative keep, ...)."""


class EncodingError(InvalidArgument):
    """A checkpoint, metadata or write value cannot be encoded as JSON; nothing was written."""


class ObjectTooLarge(InvalidArgument):
    """An encoded object exceeds the single-PUT limit; nothing was written."""

    def __init__(self, key: str, size: int, limit: int) -> None:
        super().__init__(
            f"object {key!r} would be {size:,} bytes, above the {limit:,}-byte single-PUT limit "
            "(S3CheckpointSaver(max_object_bytes=...)); store large blobs elsewhere and "
            "keep a reference in the checkpoint"
        )
        self.key = key
        self.size = size
        self.limit = limit


class StorageError(S3SaverError):
    """An S3 request failed. Names the bucket, the operation and the key (if any)."""

    def __init__(
        self,
        message: str,
        *,
        bucket: str,
        operation: str,
        key: str | None = None,
        code: str | None = None,
    ) -> None:
        where = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}"
        super().__init__(f"{operation} on {where}: {message}")
        self.bucket = bucket
        self.operation = operation
        self.key = key
        self.code = code


class BucketNotFound(StorageError):
    """The bucket does not exist (or the endpoint does not serve it)."""


class AccessDenied(StorageError):
    """The credentials in use are not allowed to do this operation on this bucket or key."""


class EndpointUnreachable(StorageError):
    """No connection could be made to the S3 endpoint (wrong URL, server down, network)."""


class ConflictError(StorageError):
    """Concurrent writers kept winning a conditional write; s3saver gave up after retrying."""


class UnsupportedStore(StorageError):
    """The store breaks an assumption of the bucket layout (listing order, conditional writes)."""


class CorruptObject(S3SaverError):
    """An object under the saver's prefix is not a readable s3saver object."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"corrupt or foreign object {key!r}: {reason}")
        self.key = key
        self.reason = reason

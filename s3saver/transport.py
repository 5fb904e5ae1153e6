"""S3 I/O: one reused aioboto3 client, error translation and the conditional-write protocol.

Nothing here knows the bucket layout; the store asks for gets, puts, lists, copies and deletes of
keys. Three concerns live here because every caller needs them the same way:

* **One client, bound to the running event loop.** aiobotocore clients cannot be used from a
  loop other than the one that created them. A saver created at import time and used under
  ``asyncio.run`` once per Lambda invocation would fail on its second invocation, so the client
  is (re)opened lazily for whichever loop is running.
* **Errors a user can act on.** botocore's exceptions become :mod:`s3saver.errors` types that
  name the bucket, the operation and the key.
* **Conditional writes.** ``If-None-Match: *`` and ``If-Match`` protect other writers' objects;
  412/409 are reported as :class:`PreconditionFailed` so the store can re-read and decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

from .errors import (
    AccessDenied,
    BucketNotFound,
    EndpointUnreachable,
    InvalidArgument,
    StorageError,
)

DELETE_BATCH = 1000
"""DeleteObjects accepts at most 1,000 keys per call on AWS."""


class PreconditionFailed(Exception):
    """A conditional request did not apply (412, or 409 for a concurrent conflicting write)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    etag: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class Page:
    keys: list[str]
    prefixes: list[str] = field(default_factory=list)
    next_token: str | None = None


@dataclass(frozen=True)
class ClientOptions:
    """How to reach the store. Unset values come from the standard AWS configuration."""

    endpoint_url: str | None = None
    region_name: str | None = None
    path_style: bool | None = None
    """Path-style addressing; default: on for non-AWS endpoints, off for AWS."""
    checksums_when_required: bool | None = None
    """Only send/validate checksums where S3 requires them; default: on for non-AWS endpoints."""
    max_connections: int = 64
    max_attempts: int = 5
    """Total attempts per request (first try included), botocore standard retry mode."""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


def resolved_endpoint(explicit: str | None) -> str | None:
    """The endpoint botocore will use: the argument, else the standard environment variables."""
    return explicit or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


def is_aws_endpoint(url: str | None) -> bool:
    if not url:
        return True
    host = urlsplit(url).hostname or ""
    return host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")


def _client_config(options: ClientOptions) -> tuple[AioConfig, str | None]:
    endpoint = resolved_endpoint(options.endpoint_url)
    foreign = not is_aws_endpoint(endpoint)
    path_style = foreign if options.path_style is None else options.path_style
    relaxed = (
        foreign if options.checksums_when_required is None else options.checksums_when_required
    )
    kwargs: dict[str, Any] = {
        "retries": {"mode": "standard", "total_max_attempts": options.max_attempts},
        "max_pool_connections": options.max_connections,
        "connect_timeout": options.connect_timeout,
        "read_timeout": options.read_timeout,
    }
    if path_style:
        kwargs["s3"] = {"addressing_style": "path"}
    if relaxed:
        kwargs["request_checksum_calculation"] = "when_required"
        kwargs["response_checksum_validation"] = "when_required"
    return AioConfig(**kwargs), options.endpoint_url


class Transport:
    """S3 operations on one bucket through one reused client."""

    def __init__(
        self,
        bucket: str,
        *,
        client: Any | None = None,
        session: aioboto3.Session | None = None,
        options: ClientOptions | None = None,
    ) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise InvalidArgument(f"bucket must be a non-empty string, got {bucket!r}")
        self.bucket = bucket
        self.options = options or ClientOptions()
        self._session = session
        self._given_client = client
        # One client per event loop: aiobotocore clients cannot cross loops, and a saver may
        # serve a sync caller (on its own loop thread) and async callers at once.
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Any, contextlib.AsyncExitStack]] = {}
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
        self._guard = threading.Lock()
        self._listeners: list[tuple[str, Any]] = []
        self.quote_if_match = True
        """Send If-Match ETags quoted, as returned; Ceph RGW only takes them bare."""
        self.quoting_settled = False
        """Set once the store check (or a first If-Match 412) has decided the quoting."""

    # ---- client lifecycle ------------------------------------------------------------------
    def add_listener(self, event: str, handler: Any) -> None:
        """Register a botocore event handler on every client this transport uses."""
        self._listeners.append((event, handler))
        clients = [c for c, _ in self._clients.values()]
        if self._given_client is not None:
            clients.append(self._given_client)
        for client in clients:
            client.meta.events.register(event, handler)

    async def client(self) -> Any:
        """The client for the running loop, opening one on first use in that loop."""
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        opened = self._clients.get(loop)
        if opened is not None:
            return opened[0]
        with self._guard:
            # Loops that are gone (asyncio.run per Lambda invocation) took their connections
            # with them; their clients cannot be closed from here, only forgotten.
            for dead in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[dead]
                self._locks.pop(dead, None)
            lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            opened = self._clients.get(loop)
            if opened is not None:
                return opened[0]
            session = self._session or aioboto3.Session()
            config, endpoint = _client_config(self.options)
            stack = contextlib.AsyncExitStack()
            try:
                client = await stack.enter_async_context(
                    session.client(
                        "s3",
                        endpoint_url=endpoint,
                        region_name=self.options.region_name,
                        config=config,
                    )
                )
            except (BotoCoreError, ValueError) as exc:
                await stack.aclose()
                raise StorageError(str(exc), bucket=self.bucket, operation="open client") from exc
            for event, handler in self._listeners:
                client.meta.events.register(event, handler)
            self._clients[loop] = (client, stack)
            return client

    async def close(self) -> None:
        """Close the client of the running loop; a caller's own client is left open."""
        loop = asyncio.get_running_loop()
        with self._guard:
            opened = self._clients.pop(loop, None)
            self._locks.pop(loop, None)
        if opened is not None:
            await opened[1].aclose()

    # ---- error translation ---------------------------------------------------------------
    def _error(self, exc: Exception, operation: str, key: str | None) -> Exception:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            message = str(err.get("Message") or code or exc)
            if code == "NoSuchBucket":
                return BucketNotFound(
                    "the bucket does not exist",
                    bucket=self.bucket,
                    operation=operation,
                    key=key,
                    code=code,
                )
            if (
                code
                in (
                    "AccessDenied",
                    "Forbidden",
                    "InvalidAccessKeyId",
                    "SignatureDoesNotMatch",
                    "AllAccessDisabled",
                )
                or status == 403
            ):
                return AccessDenied(
                    f"access denied ({code}: {message})",
                    bucket=self.bucket,
                    operation=operation,
                    key=key,
                    code=code,
                )
            return StorageError(
                f"{code or status}: {message}",
                bucket=self.bucket,
                operation=operation,
                key=key,
                code=code,
            )
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            return EndpointUnreachable(
                f"cannot reach the S3 endpoint ({exc})",
                bucket=self.bucket,
                operation=operation,
                key=key,
            )
        if isinstance(exc, NoCredentialsError):
            return AccessDenied(
                "no AWS credentials found (environment, shared files, instance/task role)",
                bucket=self.bucket,
                operation=operation,
                key=key,
            )
        if isinstance(exc, BotoCoreError):
            return StorageError(str(exc), bucket=self.bucket, operation=operation, key=key)
        return exc

    @staticmethod
    def _status(exc: ClientError) -> tuple[str, int | None]:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code, status

    # ---- operations -------------------------------------------------------------------------
    async def get(self, key: str) -> StoredObject | None:
        """The object, or None if there is no such key."""
        client = await self.client()
        try:
            resp = await client.get_object(Bucket=self.bucket, Key=key)
            async with resp["Body"] as stream:
                body = await stream.read()
        except ClientError as exc:
            code, status = self._status(exc)
            if code in ("NoSuchKey", "404") or (status == 404 and code != "NoSuchBucket"):
                return None
            raise self._error(exc, "GetObject", key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, "GetObject", key) from exc
        return StoredObject(body, resp.get("ETag", ""), dict(resp.get("Metadata") or {}))

    async def get_range(self, key: str, start: int, end: int) -> tuple[bytes, int] | None:
        """Bytes ``start..end`` (inclusive) of an object and its total size; None if missing."""
        client = await self.client()
        try:
            resp = await client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}"
            )
            async with resp["Body"] as stream:
                body = await stream.read()
        except ClientError as exc:
            code, status = self._status(exc)
            if code in ("NoSuchKey", "404") or (status == 404 and code != "NoSuchBucket"):
                return None
            if code == "InvalidRange" or status == 416:
                return b"", 0
            raise self._error(exc, "GetObject", key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, "GetObject", key) from exc
        content_range = str(resp.get("ContentRange") or "")
        total = int(content_range.rsplit("/", 1)[1]) if "/" in content_range else len(body)
        return body, total

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Store an object; raises PreconditionFailed when a condition did not hold."""
        client = await self.client()
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": "application/json",
        }
        if metadata:
            params["Metadata"] = metadata
        if if_none_match:
            params["IfNoneMatch"] = "*"
        if if_match is not None:
            bare = if_match.strip('"')
            params["IfMatch"] = f'"{bare}"' if self.quote_if_match else bare
        try:
            resp = await client.put_object(**params)
        except ClientError as exc:
            code, status = self._status(exc)
            if if_match is not None and status == 412 and not self.quoting_settled:
                # A store whose If-Match wants the other ETag spelling answers 412 to every
                # compare-and-swap. Learn it from the first 412 (one extra request, once).
                self.quoting_settled = True
                self.quote_if_match = not self.quote_if_match
                try:
                    return await self.put(key, body, if_match=if_match, metadata=metadata)
                except PreconditionFailed:
                    self.quote_if_match = not self.quote_if_match
                    raise
            conditional = if_none_match or if_match is not None
            if conditional and (
                status in (409, 412)
                or code in ("PreconditionFailed", "ConditionalRequestConflict")
                or (if_match is not None and (status == 404 or code == "NoSuchKey"))
            ):
                raise PreconditionFailed(status or 412) from None
            raise self._error(exc, "PutObject", key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, "PutObject", key) from exc
        return str(resp.get("ETag", ""))

    async def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy inside the bucket: the bytes never travel through this process."""
        client = await self.client()
        try:
            await client.copy_object(
                Bucket=self.bucket,
                Key=dest_key,
                CopySource={"Bucket": self.bucket, "Key": source_key},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "CopyObject", dest_key) from exc

    async def list_page(
        self,
        prefix: str,
        *,
        max_keys: int = 1000,
        start_after: str | None = None,
        token: str | None = None,
        delimiter: str | None = None,
    ) -> Page:
        client = await self.client()
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if token:
            params["ContinuationToken"] = token
        elif start_after:
            params["StartAfter"] = start_after
        if delimiter:
            params["Delimiter"] = delimiter
        try:
            resp = await client.list_objects_v2(**params)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "ListObjectsV2", prefix or None) from exc
        keys = [item["Key"] for item in resp.get("Contents", ())]
        prefixes = [item["Prefix"] for item in resp.get("CommonPrefixes", ())]
        token = resp.get("NextContinuationToken") if resp.get("IsTruncated") else None
        return Page(keys, prefixes, token)

    async def pages(
        self,
        prefix: str,
        *,
        page_size: int = 1000,
        start_after: str | None = None,
        delimiter: str | None = None,
    ) -> AsyncIterator[Page]:
        """Every page under a prefix, one LIST at a time: memory stays one page deep."""
        token: str | None = None
        while True:
            page = await self.list_page(
                prefix,
                max_keys=page_size,
                start_after=start_after,
                token=token,
                delimiter=delimiter,
            )
            yield page
            if page.next_token is None:
                return
            token = page.next_token

    async def delete(self, keys: Iterable[str]) -> int:
        """Delete keys in batches of at most 1,000; any per-key error fails the call by name."""
        batch: list[str] = []
        deleted = 0
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                deleted += await self._delete_batch(batch)
                batch = []
        if batch:
            deleted += await self._delete_batch(batch)
        return deleted

    async def _delete_batch(self, keys: Sequence[str]) -> int:
        client = await self.client()
        try:
            resp = await client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "DeleteObjects", keys[0] if len(keys) == 1 else None) from exc
        errors = resp.get("Errors") or []
        if errors:
            first = errors[0]
            more = f" (and {len(errors) - 1} more keys)" if len(errors) > 1 else ""
            code = str(first.get("Code", ""))
            cls = AccessDenied if code == "AccessDenied" else StorageError
            raise cls(
                f"{code}: {first.get('Message', '')}{more}",
                bucket=self.bucket,
                operation="DeleteObjects",
                key=first.get("Key"),
                code=code,
            )
        return len(keys)

"""The store check at open: refuse a store that would make the bucket layout lie.

See docs/design.md, "Stores that break the layout's assumptions".
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from .concurrency import gather_all
from .errors import AccessDenied, UnsupportedStore
from .layout import Layout
from .transport import PreconditionFailed, Transport

log = logging.getLogger("s3saver")

_CHECKED: dict[tuple[str | None, str, bool], bool] = {}
"""Stores already checked in this process -> whether If-Match takes the ETag quoted."""


async def check_store(transport: Transport, layout: Layout, conditional_writes: bool) -> None:
    """Refuse, at open, a store that would make the layout lie.

    The newest-first layout needs ListObjectsV2 in UTF-8 byte order, and the write protocol
    needs If-None-Match to be enforced. Two probe keys under ``<prefix>probe/`` answer both
    (``a!`` must list before ``a/x``; a second create-only PUT must fail); they are deleted
    again. Five requests, once per process for each endpoint and bucket.
    """
    bucket = transport.bucket
    endpoint = transport.options.endpoint_url
    cache_key = (endpoint, bucket, conditional_writes)
    if cache_key in _CHECKED:
        transport.quote_if_match = _CHECKED[cache_key]
        transport.quoting_settled = True
        return
    if bucket.endswith("--x-s3"):
        raise UnsupportedStore(
            "S3 Express directory buckets do not list keys in order, which s3saver's "
            "newest-first layout needs; use a general purpose bucket",
            bucket=bucket,
            operation="open",
        )
    base = f"{layout.prefix}probe/{uuid.uuid4().hex}/"
    first, second = base + "a!", base + "a/x"
    try:
        try:
            etag, _ = await gather_all(transport.put(first, b"{}"), transport.put(second, b"{}"))
        except AccessDenied:
            # Read-only credentials (an archive reader) cannot probe; they cannot break the
            # layout either, so they are let through unchecked.
            log.debug("s3saver: no write access to %s, store check skipped", base)
            return
        page = await transport.list_page(base, max_keys=10)
        if page.keys != [first, second]:
            raise UnsupportedStore(
                f"the store lists keys out of UTF-8 byte order ({page.keys!r}); s3saver's "
                "newest-first layout cannot work on it",
                bucket=bucket,
                operation="ListObjectsV2",
                key=base,
            )
        if conditional_writes:
            try:
                await transport.put(first, b"{}", if_none_match=True)
            except PreconditionFailed:
                pass
            else:
                raise UnsupportedStore(
                    "the store ignores conditional writes (If-None-Match); open the saver with "
                    "conditional_writes=False to use it without protection against "
                    "concurrent writers of one checkpoint",
                    bucket=bucket,
                    operation="PutObject",
                    key=first,
                )
            # If-Match: AWS and moto take the ETag as returned ("quoted"); Ceph RGW only bare.
            # (transport.put retries a first If-Match 412 with the other spelling and keeps it)
            await transport.put(first, b"{}", if_match=etag)
            transport.quoting_settled = True
    finally:
        with contextlib.suppress(Exception):
            await transport.delete([first, second])
    _CHECKED[cache_key] = transport.quote_if_match

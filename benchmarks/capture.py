"""Fast population of long threads: run the system's own write path, capture, inject.

Writing a 10,000-checkpoint thread through moto's HTTP front end costs minutes per thread on a
2-core machine (each request is ~5-25 ms of moto CPU). Instead, while a thread is populated, a
``before-send`` handler answers every request of the system's client locally (PUT = 200, GET =
404, LIST = empty, DynamoDB writes = ``{}``) and records what would have been written. The
server process then stores the recorded objects/items straight into moto's backend. So the
thread holds exactly the bytes the system itself would have written, produced by its own code,
and only the (unmeasured) population skips the network.

Only systems whose write path does not depend on what it reads back (every system measured
here: a put/put_writes writes new keys) can be populated this way; the runner checks the result
by reading the thread back through the real server before measuring.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

_EMPTY_LIST = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
    b"<IsTruncated>false</IsTruncated></ListBucketResult>"
)
_NO_SUCH_KEY = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
    b"<Message>The specified key does not exist.</Message></Error>"
)
_DELETE_RESULT = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>'
)


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read"):
        pos = body.tell() if hasattr(body, "tell") else None
        data = body.read()
        if pos is not None and hasattr(body, "seek"):
            body.seek(pos)
        return data if isinstance(data, bytes) else str(data).encode()
    raise TypeError(f"cannot capture a request body of type {type(body)!r}")


def _decode_aws_chunked(data: bytes) -> bytes:
    """Strip aws-chunked framing (``<hex-size>[;ext]\\r\\n<data>\\r\\n ... 0\\r\\n<trailers>``)."""
    out = bytearray()
    pos = 0
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


class _RawBytes:
    """Enough of a response body for botocore (``stream``) and aiobotocore (``read``)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data

    async def read(self, *_: Any) -> bytes:
        return self._data


class Recorder:
    """A ``before-send`` handler that answers locally and records the writes."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.enabled = False
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        """Hook a client; aiobotocore clients get awaitable responses, botocore ones plain."""
        import inspect

        is_async = inspect.iscoroutinefunction(getattr(client, "_make_api_call", None))

        def handler(**kwargs: Any) -> Any:
            return self._on_send(is_async, **kwargs)

        client.meta.events.register_first(
            "before-send", handler, unique_id=f"bench-capture-{id(self)}-{id(client)}"
        )
        return client

    def _response(
        self, is_async: bool, url: str, status: int, headers: dict[str, str], body: bytes
    ) -> Any:
        if is_async:
            from aiobotocore.awsrequest import AioAWSResponse

            return AioAWSResponse(url, status, headers, _RawBytes(body))
        from botocore.awsrequest import AWSResponse

        return AWSResponse(url, status, headers, _RawBytes(body))

    def _on_send(self, is_async: bool, request: Any = None, event_name: str = "", **_: Any) -> Any:
        if not self.enabled:
            return None
        service = event_name.split(".")[1] if "." in event_name else ""
        if service == "dynamodb":
            return self._dynamodb(is_async, request, event_name.rsplit(".", 1)[-1])
        return self._s3(is_async, request)

    def _s3(self, is_async: bool, request: Any) -> Any:
        url = request.url
        parts = urlsplit(url)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = parts.path.lstrip("/")
        bucket, _, key = path.partition("/")
        key = unquote(key)
        method = request.method.upper()
        hdrs = {str(k).lower(): v for k, v in request.headers.items()}
        if method == "PUT" and key:
            data = _body_bytes(request.body)
            encoding = hdrs.get("content-encoding", b"")
            if isinstance(encoding, bytes):
                encoding = encoding.decode()
            if "aws-chunked" in str(encoding):
                data = _decode_aws_chunked(data)
            meta = {}
            for k, v in hdrs.items():
                if k.startswith("x-amz-meta-"):
                    meta[k[len("x-amz-meta-") :]] = v.decode() if isinstance(v, bytes) else v
            with self._lock:
                self.records.append(
                    {"kind": "s3", "bucket": bucket, "key": key, "body": data, "meta": meta}
                )
            etag = '"' + hashlib.md5(data).hexdigest() + '"'
            return self._response(is_async, url, 200, {"ETag": etag}, b"")
        if method == "GET" and ("list-type" in query or not key):
            return self._response(
                is_async, url, 200, {"Content-Type": "application/xml"}, _EMPTY_LIST
            )
        if method == "POST" and "delete" in query:
            return self._response(is_async, url, 200, {}, _DELETE_RESULT)
        if method in ("GET", "HEAD"):
            return self._response(
                is_async,
                url,
                404,
                {"Content-Type": "application/xml"},
                b"" if method == "HEAD" else _NO_SUCH_KEY,
            )
        raise RuntimeError(f"capture mode cannot answer {method} {url}")

    def _dynamodb(self, is_async: bool, request: Any, op: str) -> Any:
        payload = json.loads(_body_bytes(request.body) or b"{}")
        reply: dict[str, Any] = {}
        items: list[tuple[str, dict[str, Any]]] = []
        if op == "PutItem":
            items.append((payload["TableName"], payload["Item"]))
        elif op == "BatchWriteItem":
            for table, reqs in payload["RequestItems"].items():
                for r in reqs:
                    if "PutRequest" in r:
                        items.append((table, r["PutRequest"]["Item"]))
            reply = {"UnprocessedItems": {}}
        elif op == "TransactWriteItems":
            for r in payload["TransactItems"]:
                if "Put" in r:
                    items.append((r["Put"]["TableName"], r["Put"]["Item"]))
        elif op in ("Query", "Scan"):
            reply = {"Items": [], "Count": 0, "ScannedCount": 0}
        elif op in ("GetItem", "UpdateItem", "DeleteItem"):
            reply = {}
        else:
            raise RuntimeError(f"capture mode cannot answer DynamoDB {op}")
        with self._lock:
            for table, item in items:
                self.records.append({"kind": "ddb", "table": table, "item": item})
        return self._response(
            is_async,
            request.url,
            200,
            {"Content-Type": "application/x-amz-json-1.0"},
            json.dumps(reply).encode(),
        )

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            out, self.records = self.records, []
        return out


class ClientPatch:
    """Faster still: replace the client's own methods (on the instance) while populating.

    botocore spends milliseconds of CPU per call (endpoint rules, signing, parsing) even when the
    response is local; for 10,000-checkpoint threads that alone takes minutes on a shared 2-core
    machine. So during population the writes are taken one level higher: ``put_object`` (S3),
    ``put_item``/``batch_write_item``/``transact_write_items`` (DynamoDB) or fsspec's
    ``_pipe_file`` are replaced on the client instance by functions that record the call's
    arguments, reads answer "nothing there", and everything is put back afterwards. The
    system's own code above the client (key layout, serialization, conditional-write flags,
    markers, index objects) runs unchanged.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.patched: list[tuple[Any, list[str]]] = []

    def _record_s3(self, bucket: str, key: str, body: Any, meta: dict[str, str] | None) -> str:
        data = _body_bytes(body)
        with self.recorder._lock:
            self.recorder.records.append(
                {"kind": "s3", "bucket": bucket, "key": key, "body": data, "meta": meta or {}}
            )
        return '"' + hashlib.md5(data).hexdigest() + '"'

    def _record_ddb(self, table: str, item: dict[str, Any]) -> None:
        with self.recorder._lock:
            self.recorder.records.append({"kind": "ddb", "table": table, "item": item})

    def s3_client(self, client: Any) -> None:
        import inspect

        is_async = inspect.iscoroutinefunction(getattr(client, "_make_api_call", None))

        def no_such_key(op: str) -> Exception:
            err = {
                "Error": {"Code": "NoSuchKey", "Message": "not there"},
                "ResponseMetadata": {"HTTPStatusCode": 404},
            }
            exc: Exception = client.exceptions.NoSuchKey(err, op)
            return exc

        def put_object(**kw: Any) -> dict[str, Any]:
            etag = self._record_s3(kw["Bucket"], kw["Key"], kw.get("Body"), kw.get("Metadata"))
            return {"ETag": etag, "ResponseMetadata": {"HTTPStatusCode": 200}}

        def get_object(**kw: Any) -> Any:
            raise no_such_key("GetObject")

        def head_object(**kw: Any) -> Any:
            raise no_such_key("HeadObject")

        def list_objects_v2(**kw: Any) -> dict[str, Any]:
            return {
                "KeyCount": 0,
                "IsTruncated": False,
                "Contents": [],
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }

        fakes = {
            "put_object": put_object,
            "get_object": get_object,
            "head_object": head_object,
            "list_objects_v2": list_objects_v2,
        }
        self._install(client, fakes, is_async)

    def dynamodb_client(self, client: Any) -> None:
        def put_item(**kw: Any) -> dict[str, Any]:
            self._record_ddb(kw["TableName"], kw["Item"])
            return {}

        def batch_write_item(**kw: Any) -> dict[str, Any]:
            for table, reqs in kw["RequestItems"].items():
                for r in reqs:
                    if "PutRequest" in r:
                        self._record_ddb(table, r["PutRequest"]["Item"])
            return {"UnprocessedItems": {}}

        def transact_write_items(**kw: Any) -> dict[str, Any]:
            for r in kw["TransactItems"]:
                if "Put" in r:
                    self._record_ddb(r["Put"]["TableName"], r["Put"]["Item"])
            return {}

        def query(**kw: Any) -> dict[str, Any]:
            return {"Items": [], "Count": 0, "ScannedCount": 0}

        def get_item(**kw: Any) -> dict[str, Any]:
            return {}

        def batch_get_item(**kw: Any) -> dict[str, Any]:
            return {"Responses": {}, "UnprocessedKeys": {}}

        fakes = {
            "put_item": put_item,
            "batch_write_item": batch_write_item,
            "transact_write_items": transact_write_items,
            "query": query,
            "get_item": get_item,
            "batch_get_item": batch_get_item,
        }
        self._install(client, fakes, False)

    def fsspec(self, fs: Any) -> None:
        async def _pipe_file(path: str, data: Any, **kw: Any) -> None:
            bucket, _, key = path.partition("/")
            self._record_s3(bucket, key, data, None)

        async def _makedirs(path: str, exist_ok: bool = False) -> None:
            return None

        async def _find(path: str, *args: Any, **kw: Any) -> Any:
            return {} if kw.get("detail") else []

        self._install(fs, {"_pipe_file": _pipe_file, "_makedirs": _makedirs, "_find": _find}, None)

    def _install(self, obj: Any, fakes: dict[str, Any], is_async: bool | None) -> None:
        for name, fn in fakes.items():
            if is_async:
                setattr(obj, name, _as_async(fn))
            else:
                setattr(obj, name, fn)
        self.patched.append((obj, list(fakes)))

    def restore(self) -> None:
        for obj, names in self.patched:
            for name in names:
                obj.__dict__.pop(name, None)
        self.patched = []


def _as_async(fn: Any) -> Any:
    async def wrapper(**kw: Any) -> Any:
        return fn(**kw)

    return wrapper

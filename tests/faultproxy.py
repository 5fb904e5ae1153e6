"""A seeded, bounded, fault-injecting HTTP/1.1 proxy in front of an S3 endpoint, for tests.

    async with FaultProxy(moto.url, seed=1, faults=FaultPlan(slowdown=0.2)) as proxy:
        client = session.client("s3", endpoint_url=proxy.url, ...)
        ...
        print(proxy.stats.as_dict())

Point an S3 client at ``proxy.url``; every request goes to the upstream unchanged (the Host header
is kept, so SigV4 signatures stay valid) unless a fault is drawn for it. For each request that
passes the plan's filters, one number is drawn from ``random.Random(seed)`` and picks at most one
fault by the plan's probabilities, so a sequential client sees the same faults for the same seed
(concurrent requests are drawn in arrival order). Faults (``FAULTS``):

- ``slowdown``: answer 503 SlowDown (S3 XML error body), not forwarded.
- ``internal_error``: answer 500 InternalError, not forwarded.
- ``reset_before``: reset the client's connection (TCP RST), not forwarded.
- ``reset_after``: forward, read the upstream's whole response (the write is committed), then
  reset the client's connection: the client sees an error for a request that succeeded.
- ``lost_response``: forward, then send nothing: hang until the client gives up (its read
  timeout) or ``lost_response_hang_s`` passes, then close. Committed, response lost.
- ``latency``: sleep ``latency_s`` before forwarding; the request then succeeds normally.

Bounds: at most ``max_faults`` faults, and the proxy stops by itself (closes its port and every
connection) ``lifetime_s`` seconds after start. ``proxy.stats`` counts requests, forwards,
faults per kind and operation, and keeps an event list for reports.

Messages are read whole before forwarding (fine for test-sized bodies). The client side keeps
HTTP/1.1 connections alive, answers ``Expect: 100-continue`` itself, and accepts Content-Length
or chunked bodies; each forwarded request uses a fresh upstream connection (``Connection:
close``), so the proxy never replays a request on a stale upstream connection. If the upstream
cannot be reached, the client's connection is closed without an answer.

Run standalone: ``python -m tests.faultproxy UPSTREAM_URL --seed 1 --slowdown 0.1 --lifetime 60``
prints its URL, then its stats as JSON when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field, fields
from urllib.parse import parse_qs, unquote, urlsplit

FAULTS = ("slowdown", "internal_error", "reset_before", "reset_after", "lost_response", "latency")
ERRORS = {  # fault -> (status, S3 error code, message), answered without forwarding
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "internal_error": (500, "InternalError", "We encountered an internal error. Please try again."),
}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}


@dataclass(frozen=True)
class FaultPlan:
    """Per-request probabilities of each fault (their sum must be <= 1), filters and bounds."""

    slowdown: float = 0.0
    internal_error: float = 0.0
    reset_before: float = 0.0
    reset_after: float = 0.0
    lost_response: float = 0.0
    latency: float = 0.0
    latency_s: float = 0.5
    lost_response_hang_s: float = 30.0  # 0: close at once instead of hanging
    methods: frozenset[str] | None = None  # e.g. {"PUT"}; None = all
    operations: frozenset[str] | None = None  # e.g. {"PutObject"}; see s3_operation()
    key_contains: str | None = None  # substring of the (decoded) object key
    max_faults: int | None = None  # None = unbounded

    def __post_init__(self) -> None:
        probs = [getattr(self, f) for f in FAULTS]
        if any(p < 0 or p > 1 for p in probs) or sum(probs) > 1 + 1e-9:
            raise ValueError(f"fault probabilities must be in [0, 1] and sum to <= 1: {probs}")
        for name in ("methods", "operations"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, frozenset):
                object.__setattr__(self, name, frozenset(value))

    def applies(self, method: str, operation: str, key: str) -> bool:
        return (
            (self.methods is None or method in self.methods)
            and (self.operations is None or operation in self.operations)
            and (self.key_contains is None or self.key_contains in key)
        )


@dataclass
class ProxyStats:
    connections: int = 0  # client connections accepted (fewer than requests = keep-alive works)
    requests: int = 0  # complete requests read from clients
    forwarded: int = 0  # requests sent upstream (including reset_after/lost_response/latency)
    faults: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    faults_by_operation: Counter[str] = field(default_factory=Counter)  # "PutObject:slowdown"
    events: list[tuple[int, str, str, str]] = field(default_factory=list)  # (n, op, key, fault)
    stopped: str | None = None  # why the proxy stopped: "lifetime", "closed"

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "forwarded": self.forwarded,
            "faults": dict(self.faults),
            "total_faults": self.total_faults,
            "operations": dict(self.operations),
            "faults_by_operation": dict(self.faults_by_operation),
            "stopped": self.stopped,
        }


def s3_operation(method: str, target: str, headers: dict[str, str]) -> tuple[str, str, str]:
    """(operation, bucket, key) of a path-style S3 request; the operation names follow botocore."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    if not bucket:
        return ("ListBuckets" if method == "GET" else f"{method}Service"), "", ""
    if not key:
        if method == "GET":
            if "uploads" in query:
                return "ListMultipartUploads", bucket, ""
            return (
                ("ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"),
                bucket,
                "",
            )
        if method == "POST" and "delete" in query:
            return "DeleteObjects", bucket, ""
        name = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket"}
        return name.get(method, f"{method}Bucket"), bucket, ""
    if "uploadId" in query:
        name = {"PUT": "UploadPart", "POST": "CompleteMultipartUpload"}
        name |= {"DELETE": "AbortMultipartUpload", "GET": "ListParts"}
        return name.get(method, f"{method}Object"), bucket, key
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload", bucket, key
    if method == "PUT" and "x-amz-copy-source" in headers:
        return "CopyObject", bucket, key
    name = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
    return name.get(method, f"{method}Object"), bucket, key


class _Message:
    """One HTTP message: start line, headers (original case and order), raw body bytes."""

    def __init__(self, start: str, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        self.start, self.headers, self.body = start, headers, body

    def get(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def encode(self, extra: list[tuple[str, str]] | None = None) -> bytes:
        keep = [(k, v) for k, v in self.headers if k.lower() not in HOP_BY_HOP]
        lines = [self.start, *(f"{k}: {v}" for k, v in [*keep, *(extra or [])])]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


async def _read_head(reader: asyncio.StreamReader) -> _Message | None:
    """None on a clean EOF before any byte of a new message."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise
    start, *lines = raw[:-4].decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]
    return _Message(start, headers)


async def _read_body(reader: asyncio.StreamReader, msg: _Message, until_eof: bool) -> None:
    """Read the message body raw, framed by chunked encoding, Content-Length or (responses) EOF."""
    if "chunked" in (msg.get("transfer-encoding") or "").lower():
        chunks = []
        while True:
            line = await reader.readuntil(b"\r\n")
            chunks.append(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    chunks.append(trailer)
                chunks.append(b"\r\n")
                break
            chunks.append(await reader.readexactly(size + 2))
        msg.body = b"".join(chunks)
    elif (length := msg.get("content-length")) is not None:
        msg.body = await reader.readexactly(int(length))
    elif until_eof:
        msg.body = await reader.read()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) so the client sees 'connection reset by peer'."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _error_response(status: int, code: str, message: str, n: int, head_only: bool) -> bytes:
    reason = {500: "Internal Server Error", 503: "Slow Down"}[status]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>faultproxy-{n}</RequestId></Error>"
    ).encode()
    if head_only:
        body = b""
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
        f"x-amz-request-id: faultproxy-{n}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class FaultProxy:
    def __init__(
        self,
        upstream_url: str,
        *,
        seed: int = 0,
        faults: FaultPlan | None = None,
        lifetime_s: float = 300.0,
        host: str = "127.0.0.1",
    ) -> None:
        up = urlsplit(upstream_url)
        if up.scheme != "http" or not up.hostname:
            raise ValueError(f"upstream must be http://host:port, got {upstream_url!r}")
        self.upstream = (up.hostname, up.port or 80)
        self.plan = faults or FaultPlan()
        self.lifetime_s = lifetime_s
        self.host = host
        self.stats = ProxyStats()
        self.url = ""
        self._rng = random.Random(seed)
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Future[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        self._timer = asyncio.get_running_loop().call_later(self.lifetime_s, self._expire)
        return self

    def _expire(self) -> None:
        self._stopping = asyncio.ensure_future(self.stop("lifetime"))

    async def stop(self, reason: str = "closed") -> None:
        if self._server is None:
            return
        self.stats.stopped = reason
        server, self._server = self._server, None
        if self._timer is not None:
            self._timer.cancel()
        server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await server.wait_closed()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        """Return once the proxy has stopped (by stop() or at the end of its lifetime)."""
        await self._stopped.wait()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _draw(self, method: str, operation: str, key: str) -> str | None:
        plan = self.plan
        if not plan.applies(method, operation, key):
            return None
        r = self._rng.random()  # drawn even when max_faults is reached: same stream per seed
        if plan.max_faults is not None and self.stats.total_faults >= plan.max_faults:
            return None
        for fault in FAULTS:
            r -= getattr(plan, fault)
            if r < 0:
                return fault
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if self._server is None:  # accepted just before stop(): its task only starts now
            writer.transport.abort()
            return
        self._conns.add(task)
        self.stats.connections += 1
        try:
            while await self._one_request(reader, writer):
                pass
        except (
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            ValueError,
        ):
            pass  # a client that went away or spoke garbage: drop the connection
        finally:
            self._conns.discard(task)
            if not writer.transport.is_closing():
                writer.close()  # flushes what is buffered, then FIN

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Handle one request; True to keep the client connection open for the next one."""
        req = await _read_head(reader)
        if req is None:
            return False
        method, target, version = req.start.split(" ", 2)
        if (req.get("expect") or "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        await _read_body(reader, req, until_eof=False)
        self.stats.requests += 1
        n = self.stats.requests
        operation, _, key = s3_operation(method, target, {k.lower(): v for k, v in req.headers})
        self.stats.operations[operation] += 1
        fault = self._draw(method, operation, key)
        if fault is not None:
            self.stats.faults[fault] += 1
            self.stats.faults_by_operation[f"{operation}:{fault}"] += 1
            self.stats.events.append((n, operation, key, fault))
        if fault in ERRORS:
            writer.write(_error_response(*ERRORS[fault], n, head_only=method == "HEAD"))
            await writer.drain()
            return True
        if fault == "reset_before":
            _reset(writer)
            return False
        if fault == "latency":
            await asyncio.sleep(self.plan.latency_s)

        resp = await self._forward(req, method)
        if fault == "reset_after":
            _reset(writer)
            return False
        if fault == "lost_response":
            if self.plan.lost_response_hang_s > 0:
                with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                    # the client sends nothing more on this connection; EOF = it gave up
                    await asyncio.wait_for(reader.read(), self.plan.lost_response_hang_s)
            return False
        keep_alive = (
            version == "HTTP/1.1"
            and (req.get("connection") or "").lower() != "close"
            and resp.framed
        )
        writer.write(resp.msg.encode([] if keep_alive else [("Connection", "close")]))
        await writer.drain()
        return keep_alive

    async def _forward(self, req: _Message, method: str) -> _Response:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            up_writer.write(req.encode([("Connection", "close")]))
            await up_writer.drain()
            self.stats.forwarded += 1
            while True:
                head = await _read_head(up_reader)
                if head is None:
                    raise ConnectionError("upstream closed without a response")
                status = int(head.start.split(" ", 2)[1])
                if not 100 <= status < 200:
                    break  # interim 1xx responses are dropped
            framed = True
            if method != "HEAD" and status not in (204, 304):
                framed = (
                    head.get("content-length") is not None
                    or "chunked" in (head.get("transfer-encoding") or "").lower()
                )
                await _read_body(up_reader, head, until_eof=True)
            return _Response(head, framed)
        finally:
            up_writer.transport.abort()


@dataclass
class _Response:
    msg: _Message
    framed: bool  # False: body ended by EOF, so the client connection must close after it


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("upstream")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=300.0)
    for f in fields(FaultPlan):
        if f.name in FAULTS or f.name in ("latency_s", "lost_response_hang_s"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=float, default=f.default)
    parser.add_argument("--max-faults", type=int)
    parser.add_argument("--methods", nargs="*")
    parser.add_argument("--operations", nargs="*")
    parser.add_argument("--key-contains")
    args = vars(parser.parse_args())
    upstream, seed, lifetime = args.pop("upstream"), args.pop("seed"), args.pop("lifetime")
    for name in ("methods", "operations"):
        args[name] = frozenset(args[name]) if args[name] else None
    plan = FaultPlan(**args)

    async def run() -> None:
        async with FaultProxy(upstream, seed=seed, faults=plan, lifetime_s=lifetime) as proxy:
            print(proxy.url, flush=True)
            await proxy.wait_stopped()
        print(json.dumps(proxy.stats.as_dict()), flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    _main()

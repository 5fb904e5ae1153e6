"""The exception family: one base class, argument errors that are also ValueErrors, and
storage errors whose message names bucket, operation and key."""

from __future__ import annotations

import inspect

import pytest

import s3saver
from s3saver import (
    AccessDenied,
    BucketNotFound,
    ConflictError,
    CorruptObject,
    EncodingError,
    EndpointUnreachable,
    InvalidArgument,
    S3SaverError,
    StorageError,
    UnsupportedStore,
)

EXPORTED_ERRORS = [
    obj
    for name in s3saver.__all__
    if inspect.isclass(obj := getattr(s3saver, name)) and issubclass(obj, BaseException)
]
STORAGE_ERRORS = [
    StorageError,
    BucketNotFound,
    AccessDenied,
    EndpointUnreachable,
    ConflictError,
    UnsupportedStore,
]


def test_every_exported_error_derives_from_the_base() -> None:
    assert len(EXPORTED_ERRORS) >= 10
    for cls in EXPORTED_ERRORS:
        assert issubclass(cls, S3SaverError), cls


def test_argument_errors_are_value_errors() -> None:
    for cls in (InvalidArgument, EncodingError):
        assert issubclass(cls, ValueError)
    assert issubclass(EncodingError, InvalidArgument)
    for cls in [*STORAGE_ERRORS, CorruptObject]:
        assert not issubclass(cls, ValueError), cls


@pytest.mark.parametrize("cls", STORAGE_ERRORS)
def test_storage_errors_name_bucket_operation_and_key(cls: type[StorageError]) -> None:
    err = cls("it broke", bucket="my-bucket", operation="GetObject", key="p/threads/t/k.json")
    text = str(err)
    assert "my-bucket" in text and "GetObject" in text and "p/threads/t/k.json" in text
    assert "it broke" in text
    assert (err.bucket, err.operation, err.key) == ("my-bucket", "GetObject", "p/threads/t/k.json")
    bucket_only = cls("no", bucket="my-bucket", operation="ListObjectsV2", code="NoSuchBucket")
    assert "my-bucket" in str(bucket_only) and "ListObjectsV2" in str(bucket_only)
    assert bucket_only.key is None and bucket_only.code == "NoSuchBucket"
    with pytest.raises(S3SaverError):
        raise err


def test_corrupt_object_names_the_key() -> None:
    err = CorruptObject("p/threads/t/x.json", "not JSON")
    assert err.key == "p/threads/t/x.json" and err.reason == "not JSON"
    assert "p/threads/t/x.json" in str(err) and "not JSON" in str(err)

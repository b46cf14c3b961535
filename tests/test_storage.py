"""The ObjectStore contract, run against both backends, plus what only one backend can show.

Contract tests take the parametrized ``store`` fixture (local folder, and S3 over HTTP to a moto
server on loopback). Backend-specific tests take ``local_store`` or ``s3_store``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from s3server import DUMMY_SECRET_ACCESS_KEY, free_port, loopback_opener, make_s3_client

from casefile.tasks.core.errors import IntegrityError, StorageError, TransientStorageError, WorkspaceError
from casefile.tasks.core.storage import LocalObjectStore, ObjectStore, S3ObjectStore, _translate_s3_error, sha256_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MiB = 1024 * 1024
ALL_BYTES = bytes(range(256)) * 4 + b"\r\n\x00\xff"  # every byte value; catches text-mode and newline mangling


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Round trips ---------------------------------------------------------------------------------------


def test_put_bytes_round_trip(store: ObjectStore) -> None:
    store.put_bytes("originals/ab/abc", ALL_BYTES)

    assert store.get_bytes("originals/ab/abc") == ALL_BYTES
    assert store.size("originals/ab/abc") == len(ALL_BYTES)
    assert store.exists("originals/ab/abc")


def test_put_file_round_trip(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(300 * 1024) + ALL_BYTES
    source = _write(tmp_path / "in" / "scan.pdf", data)

    store.put_file("derived/ab/abc.pdf", source)

    with store.open("derived/ab/abc.pdf") as fh:
        assert fh.read() == data
    assert store.size("derived/ab/abc.pdf") == len(data)
    assert source.read_bytes() == data  # the source is left alone


def test_empty_object_round_trip(store: ObjectStore) -> None:
    store.put_bytes("empty", b"")

    assert store.exists("empty")
    assert store.size("empty") == 0
    assert store.get_bytes("empty") == b""


def test_rewriting_a_key_with_the_same_bytes_is_fine(store: ObjectStore, tmp_path: Path) -> None:
    source = _write(tmp_path / "doc.bin", ALL_BYTES)

    store.put_file("originals/aa/same", source)
    store.put_file("originals/aa/same", source)
    store.put_bytes("originals/aa/same", ALL_BYTES)

    assert store.get_bytes("originals/aa/same") == ALL_BYTES
    assert list(store.list("originals/")) == ["originals/aa/same"]


# Missing keys, exists, delete ----------------------------------------------------------------------

MISSING_KEY_OPERATIONS: dict[str, Callable[[ObjectStore, str], Any]] = {
    "open": lambda s, k: s.open(k).close(),
    "size": lambda s, k: s.size(k),
    "url": lambda s, k: s.url(k),
    "get_bytes": lambda s, k: s.get_bytes(k),
}


@pytest.mark.parametrize("operation", sorted(MISSING_KEY_OPERATIONS))
def test_missing_key_is_file_not_found(store: ObjectStore, operation: str) -> None:
    store.put_bytes("present/a", b"x")  # a non-empty store, and a sibling of the missing key

    with pytest.raises(FileNotFoundError):
        MISSING_KEY_OPERATIONS[operation](store, "present/missing")


def test_exists(store: ObjectStore) -> None:
    assert not store.exists("a/b")

    store.put_bytes("a/b", b"1")

    assert store.exists("a/b")
    assert not store.exists("a")  # a "folder" is not an object
    assert not store.exists("a/b/c")


def test_delete(store: ObjectStore) -> None:
    store.put_bytes("a/keep", b"1")
    store.put_bytes("a/drop", b"2")

    store.delete("a/drop")

    assert not store.exists("a/drop")
    with pytest.raises(FileNotFoundError):
        store.get_bytes("a/drop")
    assert list(store.list()) == ["a/keep"]


def test_folders_and_paths_through_objects_are_missing_keys(store: ObjectStore) -> None:
    store.put_bytes("a/b", b"1")

    for key in ("a", "a/b/c"):  # a "folder", and a path that runs through an object
        assert not store.exists(key)
        with pytest.raises(FileNotFoundError):
            store.size(key)
        with pytest.raises(FileNotFoundError):
            store.get_bytes(key)
        store.delete(key)
    assert store.get_bytes("a/b") == b"1"


def test_deleting_a_missing_key_is_not_an_error(store: ObjectStore) -> None:
    store.delete("never/written")
    store.put_bytes("once", b"1")
    store.delete("once")
    store.delete("once")

    assert list(store.list()) == []


# Listing -------------------------------------------------------------------------------------------


def test_list_is_sorted_and_filtered_by_prefix(store: ObjectStore) -> None:
    keys = ["originals/ff/f1", "derived/00/a.pdf", "originals/0a/a1", "originals/0a/a0", "originalsX", "z"]
    for key in keys:
        store.put_bytes(key, key.encode())

    assert list(store.list()) == sorted(keys)
    assert list(store.list("originals/")) == ["originals/0a/a0", "originals/0a/a1", "originals/ff/f1"]
    assert list(store.list("originals")) == [
        "originals/0a/a0",
        "originals/0a/a1",
        "originals/ff/f1",
        "originalsX",
    ]
    assert list(store.list("originals/0a/a1")) == ["originals/0a/a1"]
    assert list(store.list("nothing/")) == []


def test_list_of_an_empty_store_is_empty(store: ObjectStore) -> None:
    assert list(store.list()) == []


def test_list_is_complete_past_one_page(store: ObjectStore) -> None:
    # S3 returns at most 1,000 keys per ListObjectsV2 call; a listing that does not page stops there.
    # Unpadded numbers make the sorted order differ from the numeric one across the page boundary.
    keys = [f"many/{i}" for i in range(1100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: store.put_bytes(key, b"."), keys))
    store.put_bytes("other/outside-the-prefix", b".")

    listed = list(store.list("many/"))

    assert len(listed) == 1100
    assert listed == sorted(keys)
    assert len(list(store.list())) == 1101


# Key validation ------------------------------------------------------------------------------------

INVALID_KEYS = ["../x", "a/../../x", "/abs", "a//b", "", "a/./b", ".", "trailing/", "a/.."]
KEY_OPERATIONS: dict[str, Callable[[ObjectStore, str], Any]] = {
    "put_bytes": lambda s, k: s.put_bytes(k, b"x"),
    "open": lambda s, k: s.open(k),
    "exists": lambda s, k: s.exists(k),
    "size": lambda s, k: s.size(k),
    "delete": lambda s, k: s.delete(k),
    "url": lambda s, k: s.url(k),
}


@pytest.mark.parametrize("key", INVALID_KEYS)
def test_invalid_keys_are_rejected(store: ObjectStore, key: str, tmp_path: Path) -> None:
    for name, operation in KEY_OPERATIONS.items():
        with pytest.raises(StorageError):
            operation(store, key)
            pytest.fail(f"{name}({key!r}) did not raise")  # pragma: no cover

    source = _write(tmp_path / "src.bin", b"x")
    with pytest.raises(StorageError):
        store.put_file(key, source)
    assert list(store.list()) == []
    assert not (tmp_path / "x").exists()  # nothing escaped the store's root


# Download ------------------------------------------------------------------------------------------


def test_download_verifies_and_returns_the_sha256(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 17)  # several read chunks
    store.put_bytes("originals/xx/doc", data)
    dest = tmp_path / "work" / "deep" / "doc.pdf"

    digest = store.download("originals/xx/doc", dest, expected_sha256=_sha(data))

    assert digest == _sha(data)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == ["doc.pdf"]  # no .part left behind


def test_download_without_expected_sha256(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("k", ALL_BYTES)

    assert store.download("k", tmp_path / "out.bin") == _sha(ALL_BYTES)
    assert (tmp_path / "out.bin").read_bytes() == ALL_BYTES


def test_download_with_wrong_sha256_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("originals/xx/doc", ALL_BYTES)
    dest_dir = tmp_path / "work"
    dest_dir.mkdir()

    with pytest.raises(IntegrityError):
        store.download("originals/xx/doc", dest_dir / "doc.pdf", expected_sha256=_sha(b"something else"))

    assert list(dest_dir.iterdir()) == []


def test_download_with_wrong_sha256_keeps_an_existing_dest(store: ObjectStore, tmp_path: Path) -> None:
    store.put_bytes("k", b"new bytes")
    dest = _write(tmp_path / "work" / "doc.pdf", b"previous good copy")

    with pytest.raises(IntegrityError):
        store.download("k", dest, expected_sha256="0" * 64)

    assert dest.read_bytes() == b"previous good copy"
    assert list(dest.parent.iterdir()) == [dest]


def test_download_of_a_missing_key_leaves_nothing(store: ObjectStore, tmp_path: Path) -> None:
    dest_dir = tmp_path / "work"
    dest_dir.mkdir()

    with pytest.raises(FileNotFoundError):
        store.download("missing", dest_dir / "doc.pdf")

    assert list(dest_dir.iterdir()) == []


# URLs and description ------------------------------------------------------------------------------


def test_local_url_is_a_file_uri(local_store: LocalObjectStore) -> None:
    local_store.put_bytes("derived/ab/packet.pdf", ALL_BYTES)

    url = local_store.url("derived/ab/packet.pdf")

    assert url.startswith("file:///")
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    assert path.is_absolute()
    assert path.read_bytes() == ALL_BYTES


@pytest.mark.s3
def test_s3_presigned_url_downloads_the_bytes(s3_store: S3ObjectStore, moto_endpoint: str) -> None:
    data = os.urandom(64 * 1024)
    s3_store.put_bytes("derived/ab/packet.pdf", data)

    url = s3_store.url("derived/ab/packet.pdf")

    assert url.startswith(moto_endpoint + "/")
    assert "X-Amz-Signature=" in url
    with loopback_opener().open(url, timeout=10) as response:
        assert response.read() == data


@pytest.mark.s3
def test_staff_download_links_expire_and_carry_the_file_name(s3_store: S3ObjectStore) -> None:
    from urllib.parse import parse_qs, urlsplit

    s3_store.put_bytes("packets/P-1/packet.pdf", b"%PDF-1.7 fictional")
    url = s3_store.url("packets/P-1/packet.pdf", download_name="C-ABC234 packet.pdf")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["900"]  # the setting s3_presign_seconds: fifteen minutes
    assert query["response-content-disposition"] == ['attachment; filename="C-ABC234_packet.pdf"']
    with loopback_opener().open(url, timeout=10) as response:
        assert response.headers["Content-Disposition"] == 'attachment; filename="C-ABC234_packet.pdf"'
    # S3 refuses a link past its expiry (moto does not check it, so the test checks what the link asks for).
    short = s3_store.url("packets/P-1/packet.pdf", expires=60)
    assert parse_qs(urlsplit(short).query)["X-Amz-Expires"] == ["60"]


@pytest.mark.s3
def test_every_object_is_written_with_server_side_encryption(
    s3_client: S3Client, s3_bucket: str, tmp_path: Path
) -> None:
    store = S3ObjectStore(s3_client, s3_bucket, "practice", sse="AES256", multipart_threshold=5 * 1024 * 1024)
    store.put_bytes("letters/a.pdf", b"small")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # above the threshold: a multipart upload
    store.put_file("originals/ab/big", big)
    small = tmp_path / "s.bin"
    small.write_bytes(b"x")
    store.put_file("originals/ab/small", small)
    for key in ("letters/a.pdf", "originals/ab/big", "originals/ab/small"):
        head = s3_client.head_object(Bucket=s3_bucket, Key=f"practice/{key}")
        assert head["ServerSideEncryption"] == "AES256", key


def test_describe_names_the_store_without_secrets(store: ObjectStore) -> None:
    text = store.describe()

    assert text
    assert DUMMY_SECRET_ACCESS_KEY not in text


# Local folder only ---------------------------------------------------------------------------------


class _Boom(RuntimeError):
    pass


def _half_then_raise(exc: Exception) -> Callable[[BinaryIO], None]:
    def writer(out: BinaryIO) -> None:
        out.write(b"half of the ")
        raise exc

    return writer


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_Boom("interrupted"), _Boom),
        # A full disk is the machine's, not the object's: a retryable WorkspaceError (exit 75).
        (OSError(28, "No space left on device"), WorkspaceError),
        (OSError(21, "Is a directory"), StorageError),
    ],
    ids=["crash", "disk-full", "other-os-error"],
)
def test_local_interrupted_write_leaves_no_target_and_no_temp(
    local_store: LocalObjectStore, exc: Exception, expected: type[Exception]
) -> None:
    with pytest.raises(expected):
        local_store._write_atomic("originals/ab/doc", _half_then_raise(exc))

    assert not local_store.exists("originals/ab/doc")
    assert list(local_store.list()) == []
    assert list((local_store.root / LocalObjectStore.TMP_DIR).iterdir()) == []


def test_local_interrupted_put_file_keeps_the_previous_object(
    local_store: LocalObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_store.put_bytes("originals/ab/doc", b"complete object")
    source = _write(tmp_path / "new.bin", os.urandom(2 * MiB))

    def copy_half_then_fail(src: BinaryIO, dst: BinaryIO, length: int = 0) -> None:
        dst.write(src.read(MiB))
        raise _Boom("interrupted")

    monkeypatch.setattr("casefile.tasks.core.storage.shutil.copyfileobj", copy_half_then_fail)
    with pytest.raises(_Boom):
        local_store.put_file("originals/ab/doc", source)

    assert local_store.get_bytes("originals/ab/doc") == b"complete object"
    assert list((local_store.root / LocalObjectStore.TMP_DIR).iterdir()) == []


def test_local_list_never_shows_the_temp_folder(local_store: LocalObjectStore) -> None:
    local_store.put_bytes("a", b"1")
    # What a killed process leaves behind (kill -9 skips the finally that removes the temp file), a minute later.
    leftover = local_store.root / LocalObjectStore.TMP_DIR / "tmpabc123"
    leftover.write_bytes(b"partial")
    os.utime(leftover, (time.time() - 120, time.time() - 120))

    assert list(local_store.list()) == ["a"]
    assert list(local_store.list(LocalObjectStore.TMP_DIR)) == []
    assert local_store.clean_temp() == 1
    assert list((local_store.root / LocalObjectStore.TMP_DIR).iterdir()) == []


def test_a_write_in_progress_is_never_cleaned_whatever_its_age(local_store: LocalObjectStore) -> None:
    """Another process's write holds a lock on its temp file: clean_temp leaves it, however old it looks."""
    started: list[Path] = []

    def slow_writer(out: BinaryIO) -> None:
        out.write(b"half of the object")
        out.flush()
        (leftover,) = (local_store.root / LocalObjectStore.TMP_DIR).iterdir()
        os.utime(leftover, (time.time() - 3600, time.time() - 3600))
        started.append(leftover)
        assert local_store.clean_temp() == 0  # the lock is held: a live write
        out.write(b" and the rest")

    local_store._write_atomic("originals/ab/slow", slow_writer)
    assert started and local_store.get_bytes("originals/ab/slow") == b"half of the object and the rest"


def test_local_keys_cannot_reach_into_the_temp_folder(local_store: LocalObjectStore) -> None:
    with pytest.raises(StorageError):
        local_store.put_bytes(f"{LocalObjectStore.TMP_DIR}/x", b"1")


def test_local_key_under_an_existing_object_is_a_storage_error(local_store: LocalObjectStore) -> None:
    # S3 can hold both "a" and "a/b"; a folder tree cannot. It must fail with our error, not an OSError.
    local_store.put_bytes("a", b"1")

    with pytest.raises(StorageError):
        local_store.put_bytes("a/b", b"2")
    assert list(local_store.list()) == ["a"]


def test_local_store_writes_under_its_root_only(local_store: LocalObjectStore, tmp_path: Path) -> None:
    local_store.put_bytes("originals/ab/doc", b"1")

    assert (local_store.root / "originals" / "ab" / "doc").read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["objects"]


# S3 only -------------------------------------------------------------------------------------------


@pytest.mark.s3
def test_s3_large_file_goes_as_multipart(s3_client: S3Client, s3_bucket: str, tmp_path: Path) -> None:
    threshold = 5 * MiB + 1  # S3's smallest part is 5 MiB
    store = S3ObjectStore(s3_client, s3_bucket, multipart_threshold=threshold)
    data = os.urandom(12 * MiB + 123)
    source = _write(tmp_path / "big.pdf", data)
    small = _write(tmp_path / "small.pdf", data[: 1 * MiB])

    store.put_file("originals/bb/big", source)
    store.put_file("originals/bb/small", small)

    etag = s3_client.head_object(Bucket=s3_bucket, Key="originals/bb/big")["ETag"]
    match = re.fullmatch(r'"?[0-9a-f]{32}-(\d+)"?', etag)
    assert match, f"expected a multipart ETag, got {etag}"
    assert int(match.group(1)) >= 2
    assert "-" not in s3_client.head_object(Bucket=s3_bucket, Key="originals/bb/small")["ETag"]
    assert store.size("originals/bb/big") == len(data)
    dest = tmp_path / "back" / "big.pdf"
    assert store.download("originals/bb/big", dest, expected_sha256=sha256_file(source)) == _sha(data)
    assert dest.read_bytes() == data


@pytest.mark.s3
def test_s3_prefix_is_applied_and_hidden(s3_client: S3Client, s3_bucket: str) -> None:
    tenant_a = S3ObjectStore(s3_client, s3_bucket, prefix="/firm-a/casefile/")
    tenant_b = S3ObjectStore(s3_client, s3_bucket, prefix="firm-b")

    tenant_a.put_bytes("originals/ab/doc", b"a")
    tenant_b.put_bytes("originals/ab/doc", b"b")

    raw = [obj["Key"] for obj in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert raw == ["firm-a/casefile/originals/ab/doc", "firm-b/originals/ab/doc"]
    assert list(tenant_a.list()) == ["originals/ab/doc"]
    assert list(tenant_b.list("originals/")) == ["originals/ab/doc"]
    assert tenant_a.get_bytes("originals/ab/doc") == b"a"
    assert f"s3://{s3_bucket}/firm-a/casefile/" in tenant_a.describe()


def _client_error(code: str, status: int, operation: str = "GetObject") -> ClientError:
    # The shape botocore parses from an S3 error response (the stubs' TypedDict wants every header).
    response: Any = {
        "Error": {"Code": code, "Message": "test"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("InternalError", 500, TransientStorageError),
        ("ServiceUnavailable", 503, TransientStorageError),
        ("SlowDown", 503, TransientStorageError),
        ("", 502, TransientStorageError),
        ("Throttling", 400, TransientStorageError),
        ("RequestTimeout", 400, TransientStorageError),
        ("NoSuchKey", 404, FileNotFoundError),
        ("404", 404, FileNotFoundError),
        ("NoSuchBucket", 404, StorageError),
        ("AccessDenied", 403, StorageError),
        ("InvalidArgument", 400, StorageError),
    ],
)
def test_s3_error_translation(code: str, status: int, expected: type[Exception]) -> None:
    translated = _translate_s3_error(_client_error(code, status), "originals/ab/doc", "bucket")

    assert type(translated) is expected


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ConnectionClosedError(endpoint_url="http://127.0.0.1:9"),
    ],
    ids=["connection", "read-timeout", "connection-closed"],
)
def test_s3_network_errors_are_transient(exc: Exception) -> None:
    assert type(_translate_s3_error(exc, "k", "bucket")) is TransientStorageError


def test_s3_other_botocore_errors_are_storage_errors() -> None:
    assert type(_translate_s3_error(NoCredentialsError(), "k", "bucket")) is StorageError


def _upload_failed(cause: ClientError) -> S3UploadFailedError:
    # What boto3's upload_file raises: a new error, with the ClientError only as its implicit __context__.
    wrapped = S3UploadFailedError(f"Failed to upload: {cause}")
    wrapped.__context__ = cause
    return wrapped


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [("NoSuchBucket", 404, StorageError), ("SlowDown", 503, TransientStorageError)],
)
def test_s3_upload_failed_is_translated_by_its_cause(code: str, status: int, expected: type[Exception]) -> None:
    wrapped = _upload_failed(_client_error(code, status, "PutObject"))

    assert type(_translate_s3_error(wrapped, "k", "bucket")) is expected


@pytest.mark.s3
def test_s3_missing_bucket_is_a_storage_error(s3_client: S3Client, tmp_path: Path) -> None:
    store = S3ObjectStore(s3_client, "casefile-test-no-such-bucket")
    source = _write(tmp_path / "doc.bin", b"1")

    for operation in (
        lambda: store.put_bytes("k", b"1"),
        lambda: store.put_file("k", source),
        lambda: store.get_bytes("k"),
        lambda: list(store.list()),
    ):
        with pytest.raises(StorageError) as info:
            operation()
        assert not isinstance(info.value, TransientStorageError)
        assert isinstance(info.value.__cause__, Exception)


def test_s3_unreachable_endpoint_is_transient(tmp_path: Path) -> None:
    # Nothing listens on this loopback port, so the connection is refused at once.
    client = make_s3_client(f"http://127.0.0.1:{free_port()}", max_attempts=1)
    store = S3ObjectStore(client, "casefile")

    with pytest.raises(TransientStorageError):
        store.put_bytes("k", b"1")
    with pytest.raises(TransientStorageError):
        store.get_bytes("k")

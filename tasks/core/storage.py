"""Object store: one small interface, a local-folder implementation (default) and an S3 one.

Keys are POSIX-style relative paths ("originals/ab/abcdef..."). Objects are immutable by convention:
originals are content addressed, so writing the same key twice writes the same bytes. Writes are
atomic: a reader sees the whole object or nothing. A missing key is ``FileNotFoundError``.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .errors import StorageError, TransientStorageError, WorkspaceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from .settings import Settings

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def original_key(sha256: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}"


def derived_key(sha256: str, suffix: str = ".pdf") -> str:
    return f"derived/{sha256[:2]}/{sha256}{suffix}"


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"Invalid object key {key!r}.")
    return key


class ObjectStore(ABC):
    """The storage interface every stage uses."""

    @abstractmethod
    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` atomically."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream; the caller closes it."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``, sorted, however many there are (pages through the listing)."""

    @abstractmethod
    def url(self, key: str, *, download_name: str | None = None, expires: int | None = None) -> str:
        """A location a person or program can fetch: a presigned GET URL on S3 (valid ``expires`` seconds, saved as
        ``download_name``), a file URI locally."""

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for humans (no secrets)."""

    def modified(self, key: str) -> float | None:
        """When the object was written (seconds since the epoch), if the store can tell; None otherwise."""
        return None

    def download_url(self, key: str, *, seconds: int, filename: str | None = None) -> str | None:
        """A short-lived URL a browser can download ``key`` from directly (saved as ``filename``), or None when the
        store cannot give one (the local folder: the caller streams the bytes itself)."""
        return None

    # Shared helpers ----------------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def download(self, key: str, dest: Path, expected_sha256: str | None = None) -> str:
        """Copy ``key`` to ``dest`` atomically; verify its SHA-256 when given. Returns the SHA-256."""
        from .errors import IntegrityError

        dest.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, self.open(key) as src:
                for block in iter(lambda: src.read(CHUNK), b""):
                    digest.update(block)
                    out.write(block)
            actual = digest.hexdigest()
            if expected_sha256 is not None and actual != expected_sha256:
                raise IntegrityError(
                    f"The stored object {key} does not match its recorded SHA-256 "
                    f"(expected {expected_sha256[:12]}…, got {actual[:12]}…). Nothing was written to {dest}. "
                    "Restore the object store from backup or re-add the original file."
                )
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return actual


class LocalObjectStore(ObjectStore):
    """Objects as files under one folder. Writes go to a temp file in the same folder, then rename."""

    TMP_DIR = ".tmp"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / self.TMP_DIR).mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        if _check_key(key).split("/", 1)[0] == self.TMP_DIR:
            # list() hides this folder and clean_temp() empties it, so an object there would vanish.
            raise StorageError(f"Invalid object key {key!r}: {self.TMP_DIR}/ is reserved for temp files.")
        return self.root / key

    def _write_atomic(self, key: str, writer: Any) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _local_write_error(exc, key, self.root) from exc
        try:
            fd, tmp_name = tempfile.mkstemp(dir=self.root / self.TMP_DIR)
        except OSError as exc:
            raise _local_write_error(exc, key, self.root) from exc
        tmp = Path(tmp_name)
        # Held while the temp file is written: clean_temp() removes only temp files nobody holds (killed writes).
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with os.fdopen(fd, "wb") as out:
                writer(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o640)
            tmp.replace(target)
        except OSError as exc:
            raise _local_write_error(exc, key, self.root) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, path: Path) -> None:
        def copy(out: BinaryIO) -> None:
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, CHUNK)

        self._write_atomic(key, copy)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write_atomic(key, lambda out: out.write(data))

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.stat().st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def modified(self, key: str) -> float | None:
        try:
            return self._path(key).stat().st_mtime
        except FileNotFoundError:
            raise FileNotFoundError(key) from None

    def list(self, prefix: str = "") -> Iterator[str]:
        keys: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if d != self.TMP_DIR]
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def url(self, key: str, *, download_name: str | None = None, expires: int | None = None) -> str:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path.as_uri()

    def describe(self) -> str:
        return f"local folder {self.root}"

    def stale_temp(self, older_than_seconds: float = 60.0) -> builtins.list[Path]:
        """Temp files left by interrupted writes: no live writer holds them (a writer locks its temp file before it
        writes a byte, until it is renamed into place; a kill releases the lock). An empty one may be between its
        creation and its lock: it is left until it is older than ``older_than_seconds``."""
        import time

        cutoff = time.time() - older_than_seconds
        found = []
        for leftover in sorted((self.root / self.TMP_DIR).iterdir()):
            try:
                info = leftover.stat()
                if info.st_size == 0 and info.st_mtime >= cutoff:
                    continue
                fd = os.open(leftover, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a write in progress
            finally:
                os.close(fd)
            found.append(leftover)
        return found

    def clean_temp(self, older_than_seconds: float = 60.0) -> int:
        """Remove temp files left by interrupted writes (``stale_temp``); writes in progress in any process are left
        alone. Returns how many were removed."""
        removed = 0
        for leftover in self.stale_temp(older_than_seconds):
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed


def _local_write_error(exc: OSError, key: str, root: Path) -> StorageError | WorkspaceError:
    """A full, read-only or failing disk under the local store is the machine's problem (retry once fixed);
    anything else (a file where a folder should be) is a storage error."""
    from .workdirs import is_environment_error, workspace_error

    if is_environment_error(exc):
        return workspace_error(exc, root)
    return StorageError(f"Could not write object {key} under {root}: {exc.strerror}.")


_TRANSIENT_CODES = {
    "RequestTimeout",
    "RequestTimeoutException",
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}


def _translate_s3_error(exc: Exception, key: str, bucket: str) -> Exception:
    """Map botocore errors to ours: missing key -> FileNotFoundError, 5xx/throttling -> transient."""
    from boto3.exceptions import Boto3Error, S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        # upload_file wraps the ClientError (implicitly, as __context__) in S3UploadFailedError.
        exc = exc.__context__
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in ("NoSuchKey", "404", "NotFound"):
            return FileNotFoundError(key)
        if code == "NoSuchBucket":
            return StorageError(f"The S3 bucket {bucket!r} does not exist. Create it or set CASEFILE_S3_BUCKET.")
        if status >= 500 or code in _TRANSIENT_CODES:
            return TransientStorageError(f"The object store is unavailable ({code or status}) for {key}; retry.")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StorageError(
                f"Access to S3 bucket {bucket!r} was denied ({code}). Check the AWS credentials "
                "(environment, ~/.aws/credentials or instance role) and the bucket policy."
            )
        return StorageError(f"S3 request for {key} failed ({code or status}).")
    if isinstance(exc, (ConnectionError, HTTPClientError)):  # refused, timed out, connection dropped
        return TransientStorageError(f"Could not reach the object store for {key} ({type(exc).__name__}); retry.")
    if isinstance(exc, (BotoCoreError, Boto3Error)):  # e.g. NoCredentialsError
        return StorageError(f"S3 request for {key} failed ({type(exc).__name__}).")
    return exc


class S3ObjectStore(ObjectStore):
    """Objects in an S3 bucket (AWS, MinIO, Ceph RGW...). The boto3 client is injected."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        multipart_threshold: int = 64 * 1024 * 1024,
        presign_seconds: int = 900,
        sse: str | None = None,
        sse_kms_key_id: str | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.presign_seconds = presign_seconds
        # Server-side encryption asked for on every write (client files are confidential); None leaves it to the
        # bucket's default encryption.
        self.write_args: dict[str, str] = {}
        if sse:
            self.write_args["ServerSideEncryption"] = sse
            if sse_kms_key_id and sse.startswith("aws:kms"):
                self.write_args["SSEKMSKeyId"] = sse_kms_key_id
        from boto3.s3.transfer import TransferConfig

        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(8 * 1024 * 1024, multipart_threshold // 4),
        )

    def _k(self, key: str) -> str:
        return self.prefix + _check_key(key)

    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (ClientError, BotoCoreError, Boto3Error) as exc:
            raise _translate_s3_error(exc, key, self.bucket) from exc

    def put_file(self, key: str, path: Path) -> None:
        # upload_file sends one PUT below the threshold and a multipart upload above it; S3 makes the
        # object visible only when the PUT or CompleteMultipartUpload succeeds, so writes are atomic.
        with self._errors(key):
            self.client.upload_file(
                str(path), self.bucket, self._k(key), Config=self.transfer, ExtraArgs=self.write_args or None
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=data, **self.write_args)  # type: ignore[arg-type]

    def open(self, key: str) -> BinaryIO:
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        body: BinaryIO = response["Body"]  # type: ignore[assignment]
        return body

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def modified(self, key: str) -> float | None:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        return head["LastModified"].timestamp()

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(prefix or "/"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]

    def url(self, key: str, *, download_name: str | None = None, expires: int | None = None) -> str:
        """A presigned GET URL that works for ``expires`` seconds (default ``presign_seconds``, the setting
        s3_presign_seconds); ``download_name`` makes browsers save it under that name."""
        if not self.exists(key):
            raise FileNotFoundError(key)
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._k(key)}
        if download_name:
            safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in download_name)[:150]
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        with self._errors(key):
            return self.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expires or self.presign_seconds
            )

    def download_url(self, key: str, *, seconds: int, filename: str | None = None) -> str | None:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(key)}
        if filename is not None:
            safe = "".join(c for c in filename if c.isalnum() or c in "._-") or "download"
            params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
        with self._errors(key):
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def describe(self) -> str:
        endpoint = self.client.meta.endpoint_url
        return f"s3://{self.bucket}/{self.prefix} at {endpoint}"


def make_s3_client(settings: Settings) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=config)


def open_store(settings: Settings) -> ObjectStore:
    from .settings import StorageBackend

    if settings.storage_backend is StorageBackend.S3:
        return S3ObjectStore(
            make_s3_client(settings),
            settings.s3_bucket,
            settings.s3_prefix,
            multipart_threshold=settings.s3_multipart_threshold,
            presign_seconds=settings.s3_presign_seconds,
            sse=settings.s3_sse,
            sse_kms_key_id=settings.s3_sse_kms_key_id,
        )
    return LocalObjectStore(settings.objects_path)

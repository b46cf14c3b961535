"""Shared fixtures. One section per concern; add new sections below the existing ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from s3server import make_s3_client, running_moto_server

from tasks.storage import LocalObjectStore, ObjectStore, S3ObjectStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


# Object stores -------------------------------------------------------------------------------------
# S3 tests talk over real HTTP to moto's standalone server, one process per test session on loopback.
# Each test gets its own bucket, so tests never see each other's objects.


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def s3_client(moto_endpoint: str) -> S3Client:
    return make_s3_client(moto_endpoint)


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> str:
    name = f"casefile-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_client: S3Client, s3_bucket: str) -> S3ObjectStore:
    return S3ObjectStore(s3_client, s3_bucket)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each backend in turn; the S3 one starts moto only when selected (``-m "not s3"`` skips it)."""
    backend: ObjectStore = request.getfixturevalue(f"{request.param}_store")
    return backend

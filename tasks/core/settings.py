"""One settings object, built by ``load_settings()`` and passed in; nothing is read at import time.

Sources, highest first: keyword arguments, ``CASEFILE_*`` environment variables, the TOML config file
(``$CASEFILE_HOME/config.toml`` or ``CASEFILE_CONFIG``), then the defaults below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The folder that holds tasks/, flows/, config/ and templates/: the repository in a checkout, site-packages/casefile
# when installed (config/ and templates/ ship as package data).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
DEMO_DATA = PACKAGE_ROOT / "tasks" / "demo" / "data"  # the demo's fictional sample files


@dataclass(frozen=True)
class Limits:
    """Intake limits on any single input, checked before anything expensive (settings max_*)."""

    max_file_bytes: int
    max_pages: int
    max_image_pixels: int
    max_stream_bytes: int = 64 * 1024 * 1024  # what one compressed part of a PDF may expand to (not images)


class StorageBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class SearchBackend(StrEnum):
    AUTO = "auto"  # PostgreSQL when the catalog is on PostgreSQL, else SQLite FTS5 (the embedded default)
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class SmtpSecurity(StrEnum):
    NONE = "none"  # plain SMTP: loopback or a trusted relay only
    STARTTLS = "starttls"  # usually port 587
    SSL = "ssl"  # implicit TLS, usually port 465


def default_home() -> Path:
    return Path(os.environ.get("CASEFILE_HOME") or ".casefile").resolve()


def _config_file() -> Path:
    explicit = os.environ.get("CASEFILE_CONFIG")
    return Path(explicit) if explicit else default_home() / "config.toml"


def config_file() -> Path:
    """The settings file: ``CASEFILE_CONFIG``, else ``config.toml`` in the home."""
    return _config_file()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASEFILE_", extra="forbid")

    home: Path = Field(default_factory=default_home)
    database_url: str = ""  # default: sqlite file under home
    config_dir: Path = PACKAGE_ROOT / "config"
    templates_dir: Path = PACKAGE_ROOT / "templates"
    template_overrides: Path | None = None  # a practice's own copies of templates, searched before templates_dir
    # The practice's own files: practice.toml (`casefile practice init/set`), signature images, and templates/ (its
    # template overrides when `template_overrides` is not set). Default: the home.
    practice_dir: Path | None = None

    storage_backend: StorageBackend = StorageBackend.LOCAL
    storage_path: Path | None = None  # default: home/objects
    s3_bucket: str = "casefile"
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_multipart_threshold: int = 64 * 1024 * 1024
    s3_presign_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)  # how long a download link works
    # Server-side encryption of every object written: "AES256" (keys managed by the store), "aws:kms" (with
    # s3_sse_kms_key_id, or the bucket's default key) or None (the bucket's default encryption applies).
    s3_sse: str | None = Field(default=None, pattern=r"^(AES256|aws:kms|aws:kms:dsse)$")
    s3_sse_kms_key_id: str | None = None

    ocr_enabled: bool = True
    ocr_languages: str = "eng+spa"  # Tesseract language spec
    ocr_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)  # OCR processes
    ocr_page_timeout: float = Field(default=180.0, gt=0)  # seconds one page may take in Tesseract
    ocr_min_confidence: float = Field(default=70.0, ge=0, le=100)  # below: flagged for a person to check
    ocr_dpi: int = Field(default=300, ge=70, le=600)  # for pages that must be rendered (not one image)
    index_path: Path | None = None  # default: home/index.db (SQLite FTS5)
    search_backend: SearchBackend = SearchBackend.AUTO
    search_url: str = ""  # the PostgreSQL database of the search index; default: the catalog's

    # A practice's shared deployment: `casefile serve --pool NAME` deploys the flows to this Prefect process work
    # pool, and OCR of a long scan is split into page ranges, each a flow run that any worker of the pool picks up.
    work_pool: str | None = None
    ocr_split_pages: int = Field(default=25, ge=1)  # pages per range (documents this long or shorter: one run)
    ocr_lease_seconds: float = Field(default=120.0, ge=1)  # a range whose run gave no sign of life this long is
    # retried on another worker (its machine died or was cut off)

    ingest_workers: int = Field(default=4, ge=1, le=64)  # files taken in at once by one flow run
    # Processes a packet build prepares exhibit pages and checks parts in (1: all in the build's own process)
    packet_workers: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1), ge=1, le=64)

    max_file_bytes: int = 512 * 1024 * 1024
    max_pages: int = 5000
    max_image_pixels: int = 100_000_000  # a 12 MP phone photo is 12e6; a 600-dpi letter scan ~34e6
    # What one compressed part of a PDF (a page's content, a font) may expand to; images are bounded by their pixels
    max_stream_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)

    prefect_api_url: str | None = None  # a Prefect server to use; default: the local one if running, else ephemeral

    # E-mail (tasks/requests/mail.py). The default points at a loopback test server (`python -m smtpserver`), so a
    # fresh install can never mail anyone by accident; a practice sets its provider's host, port 587 + starttls
    # (or 465 + ssl) and credentials.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None  # shown as ********** by `casefile config`; never logged
    smtp_timeout: float = Field(default=30.0, gt=0)  # seconds per SMTP connection/command
    smtp_ca_file: Path | None = None  # extra CA bundle to trust (a practice's own relay); default: the system's
    mail_from: str | None = None  # default: the practice's e-mail in config/practice.toml
    mail_send_interval: float = Field(default=0.0, ge=0)  # seconds between two e-mails of one run (provider limits)

    # Scheduled work served by `casefile serve` (flows/supervisor.py).
    chase_cron: str = "0 8 * * 1-5"  # the overdue check: weekday mornings
    chase_timezone: str = "America/New_York"
    chase_interval_seconds: float | None = Field(default=None, gt=0)  # testing only: replaces chase_cron when set
    inbox_poll_seconds: float = Field(default=300.0, gt=0)  # how often the inbox is polled
    inbox_s3_prefix: str | None = None  # also poll objects under <prefix><CASE-ID>/ in the object store
    # `casefile serve`: where its Prefect server and UI listen. Loopback by default: the UI has no login.
    serve_host: str = "127.0.0.1"
    serve_port: int = Field(default=4200, ge=0, le=65535)  # 0: any free port
    serve_ui_url: str | None = None  # the address people open (a reverse proxy's); default http://<host>:<port>
    serve_stop_grace_seconds: float = Field(default=60.0, ge=0)  # a flow run in flight gets this long on a stop
    alert_email: str | None = None  # where a failed scheduled run is reported; default: the practice's e-mail

    # The staff web page (flows/web, tasks/staff): sessions, sign-in limits, uploads, downloads.
    web_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)  # a session unused this long ends
    web_session_max_hours: int = Field(default=12, ge=1, le=24 * 7)  # and any session ends this long after sign-in
    web_secure_cookies: bool = False  # Secure cookies even over plain HTTP (always Secure when served over TLS)
    web_signin_attempts: int = Field(default=5, ge=1, le=100)  # failed sign-ins per user name within the window
    web_signin_address_attempts: int = Field(default=20, ge=1, le=1000)  # failed sign-ins per client address
    web_signin_window_seconds: int = Field(default=900, ge=10)  # the window of both limits
    web_upload_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)  # one upload (several files) in total
    web_upload_max_files: int = Field(default=50, ge=1, le=1000)  # files in one upload
    web_presign_seconds: int = Field(default=60, ge=5, le=3600)  # lifetime of an S3 download link

    @field_validator("home", "config_dir", "templates_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    # Derived locations -------------------------------------------------------------------------
    @property
    def catalog_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def catalog_on_postgres(self) -> bool:
        return self.catalog_url.startswith("postgresql")

    @property
    def search_on_postgres(self) -> bool:
        if self.search_backend is SearchBackend.AUTO:
            return bool(self.search_url) or self.catalog_on_postgres
        return self.search_backend is SearchBackend.POSTGRESQL

    @property
    def search_database_url(self) -> str:
        url = self.search_url or self.catalog_url
        if not url.startswith("postgresql"):
            from .errors import ConfigError

            raise ConfigError(
                "search_backend is postgresql but there is no PostgreSQL database for it: set search_url (or "
                "database_url) to a postgresql+psycopg:// URL, or search_backend to sqlite."
            )
        return url

    @property
    def objects_path(self) -> Path:
        return (self.storage_path or self.home / "objects").expanduser().resolve()

    @property
    def search_index_path(self) -> Path:
        return (self.index_path or self.home / "index.db").expanduser().resolve()

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def work_dir(self) -> Path:
        return self.home / "work"

    @property
    def practice_folder(self) -> Path:
        """Where the practice's own files are: ``practice_dir``, else the home."""
        return (self.practice_dir or self.home).expanduser().resolve()

    @property
    def practice_file(self) -> Path:
        return self.practice_folder / "practice.toml"

    @property
    def overrides_dir(self) -> Path | None:
        """The practice's template overrides: ``template_overrides``, else ``templates/`` of the practice folder
        when there is one."""
        if self.template_overrides is not None:
            return self.template_overrides
        folder = self.practice_folder / "templates"
        return folder if folder.is_dir() else None


def load_settings(**overrides: Any) -> Settings:
    from pydantic import ValidationError as PydanticValidationError

    from .errors import ConfigError

    try:
        settings = Settings(**overrides)
    except PydanticValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ConfigError(
            f"Invalid setting(s): {fields}. Check CASEFILE_* environment variables and {_config_file()}."
        ) from exc
    return settings

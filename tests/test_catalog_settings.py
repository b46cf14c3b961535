"""Catalog migrations and the settings object; the catalog tests run on SQLite and on PostgreSQL (``catalog_url``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from casefile.tasks.core.catalog import HEAD_REVISION, Catalog, make_engine, migrate
from casefile.tasks.core.errors import ConfigError
from casefile.tasks.core.settings import Settings, StorageBackend, load_settings


def test_new_database_is_migrated_to_head(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"cases", "documents", "pages", "intake_batches", "intake_items", "audit_events"} <= tables
    migrate(catalog.engine)  # idempotent
    catalog.dispose()


def test_models_match_migrations(catalog_url: str) -> None:
    """The ORM models and the Alembic migrations describe the same schema (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from casefile.tasks.core.catalog import Base

    engine = make_engine(catalog_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


def test_settings_from_env_and_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('storage_backend = "s3"\ns3_bucket = "from-file"\nmax_pages = 10\n')
    monkeypatch.setenv("CASEFILE_HOME", str(home))
    monkeypatch.delenv("CASEFILE_CONFIG", raising=False)
    monkeypatch.setenv("CASEFILE_MAX_PAGES", "20")
    settings = load_settings()
    assert settings.home == home
    assert settings.storage_backend is StorageBackend.S3
    assert settings.s3_bucket == "from-file"
    assert settings.max_pages == 20  # environment beats the file
    assert settings.catalog_url == f"sqlite:///{home / 'catalog.db'}"
    assert settings.objects_path == home / "objects"


def test_default_home_is_dot_casefile_in_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEFILE_HOME", raising=False)
    monkeypatch.delenv("CASEFILE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().home == tmp_path / ".casefile"


def test_bad_setting_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_HOME", str(tmp_path))
    monkeypatch.setenv("CASEFILE_STORAGE_BACKEND", "floppy")
    with pytest.raises(ConfigError):
        load_settings()


def test_postgres_url_is_only_configuration() -> None:
    settings = Settings(database_url="postgresql+psycopg://casefile@db.internal/casefile")
    assert settings.catalog_url.startswith("postgresql+psycopg://")


def test_upgrade_keeps_existing_rows(catalog_url: str) -> None:
    """A catalog created by the first release upgrades in place; its rows survive with sensible defaults."""
    from alembic import command
    from alembic.config import Config

    import casefile.tasks.core.catalog

    engine = make_engine(catalog_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(casefile.tasks.core.catalog.__file__).with_name("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_foundation")
        conn.execute(
            text(
                "INSERT INTO cases (id, client_name, a_number, court, hearing_date, hearing_type, detained, status,"
                " created_at) VALUES ('C-OLD222', 'Fictional', '123456789', 'NY', '2027-03-04', 'individual', false,"
                " 'open', '2026-11-01 10:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO documents (id, case_id, sha256, original_name, size_bytes, kind, doc_type, status,"
                " page_count, created_at) VALUES ('D-OLD22222', 'C-OLD222', 'ab', 'x.pdf', 1, 'pdf', 'other', 'ready',"
                " 1, '2026-11-01 10:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO pages (document_id, number, width_pt, height_pt, rotation, image_width_px,"
                " image_height_px) VALUES ('D-OLD22222', 1, 612, 792, 0, 0, 0)"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT ocr_status FROM documents")).scalar_one() == "pending"
        assert conn.execute(text("SELECT low_confidence, text FROM pages")).one() == (0, None)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD_REVISION
    engine.dispose()

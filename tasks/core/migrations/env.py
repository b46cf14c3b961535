"""Alembic environment: runs migrations on the connection handed in by casefile.tasks.core.catalog.migrate."""

from __future__ import annotations

from alembic import context

from casefile.tasks.core.catalog import Base  # absolute: Alembic loads this file by path, outside the package

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - `alembic` CLI use: build an engine from settings
    from casefile.tasks.core.catalog import make_engine
    from casefile.tasks.core.settings import load_settings

    engine = make_engine(load_settings().catalog_url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()

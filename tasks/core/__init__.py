"""The shared core every capability stands on.

``settings`` (one settings object), ``errors`` (one hierarchy, an exit code each), ``catalog`` (SQLAlchemy models,
sessions and Alembic ``migrations``), ``storage`` (the object store: a local folder or S3), ``runtime`` (settings,
catalog, store and index built once per process, passed to every stage), ``config`` (reading the field rules in
config/), ``render`` (the one Jinja2 environment, HTML and PDF rendering), ``home`` (which home a command uses, and
whether it exists) and ``processes`` (child processes, and making them end with the process that owns them).
"""

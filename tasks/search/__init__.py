"""Full-text search of page text: the query language (query), the backend-neutral index (index) and its backends,
SQLite FTS5 (sqlite_fts, the embedded default) and PostgreSQL full-text search (postgres_fts, a practice's shared
deployment); indexing puts the catalog's page text into it, lookup answers `casefile search`."""

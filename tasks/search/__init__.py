"""Full-text search of page text: the query language (query), the backend-neutral index (index) and its SQLite FTS5
backend (sqlite_fts); indexing puts the catalog's page text into it, lookup answers `casefile search`."""

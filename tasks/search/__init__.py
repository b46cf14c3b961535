"""Full-text search of page text: the query language and the index backend (SQLite FTS5)."""

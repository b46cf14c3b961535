"""The `casefile` command line: an adapter over the library's plain functions (``main`` holds the group)."""

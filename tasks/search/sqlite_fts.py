"""The SQLite FTS5 backend of ``index.SearchIndex`` (the default): its own SQLite file, WAL mode.

Owns everything FTS5: the schema (``pages`` for metadata, the FTS5 table ``page_text`` for text and filter tags),
the tokenizer (``TOKENIZER``, which folds case and accents as ``query`` promises), the compilation of query trees
(``to_fts5``: every term quoted, so user text never reaches SQL or the FTS5 query language unquoted) and the
preparation of page rows.

Concurrency: WAL mode, so searches read a consistent snapshot while one writer works (including a whole
``rebuild``); writers wait up to ``busy_timeout`` seconds and then raise ``SearchIndexBusy`` (worth retrying).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from ..core.errors import QueryTooBroad, SearchIndexBusy, SearchIndexError
from .index import (
    ELLIPSIS,
    MATCH_END,
    MATCH_START,
    UNKNOWN_LANGUAGE,
    Hit,
    IndexedDocument,
    IndexedPage,
    IndexStats,
    SearchIndex,
    check_paging,
    clean_page_text,
    normalize_language,
    search_filters,
    snippet_fragments,
)
from .query import AnyOf, QueryNode, Term, parse_query

logger = logging.getLogger(__name__)


# Query compilation ------------------------------------------------------------------------------------------
def _has_prefix(node: QueryNode) -> bool:
    """Whether any term, excluded ones too, is a prefix (such queries get their snippets from a scratch table)."""
    if isinstance(node, Term):
        return node.prefix
    if isinstance(node, AnyOf):
        return any(_has_prefix(option) for option in node.options)
    return any(_has_prefix(part) for part in (*node.include, *node.exclude))


def to_fts5(node: QueryNode) -> str:
    """Compile a query tree to an FTS5 expression. Every term becomes a double-quoted FTS5 string, so column
    filters (``col:``), ``NEAR()``, ``^`` and the like in user text are plain characters to the tokenizer."""
    if isinstance(node, Term):
        quoted = '"' + node.text.replace('"', '""') + '"'
        return quoted + " *" if node.prefix else quoted
    if isinstance(node, AnyOf):
        return "(" + " OR ".join(to_fts5(option) for option in node.options) + ")"
    expr = "(" + " AND ".join(to_fts5(part) for part in node.include) + ")"
    for part in node.exclude:
        expr = f"({expr} NOT {to_fts5(part)})"
    return expr


# Schema -----------------------------------------------------------------------------------------------------
SCHEMA_VERSION = 1
APPLICATION_ID = 0x43464958  # "CFIX": marks the file as a casefile search index
TOKENIZER = "unicode61 remove_diacritics 2"
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_DAMAGED_CODES = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


def _primary_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code (extended codes such as SQLITE_BUSY_SNAPSHOT carry it in the low byte)."""
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


# ``pages`` holds the metadata (one row per page, id = FTS rowid); ``page_text`` the text and, in ``tags``,
# one token per filter value. Filters go into the MATCH expression (``{tags}: "c..." AND {body}: (...)``), so
# FTS5 intersects doclists instead of visiting every page that matches the words: as fast as joining ``pages``
# in general, faster for a common word in a large case, far faster than an UNINDEXED case_id column (figures in
# benchmarks/README.md; ``bench_search.py --compare-filters``). Tags also filter by type and language alike.
_SCHEMA = (
    """CREATE TABLE pages (
        id INTEGER PRIMARY KEY,
        document_id TEXT NOT NULL,
        case_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        language TEXT,
        doc_type TEXT NOT NULL,
        UNIQUE (document_id, number)
    )""",
    "CREATE INDEX pages_case ON pages (case_id)",
    f"CREATE VIRTUAL TABLE page_text USING fts5(body, tags, tokenize = '{TOKENIZER}')",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

# bm25 over the body only (tag tokens weigh nothing), ranked by SQLite's top-N sort: faster than FTS5's
# ``ORDER BY rank``, which sorts every match (benchmarks/README.md). Snippets are then made for the returned pages.
_SEARCH_SQL = """
    SELECT rowid, bm25(page_text, 1.0, 0.0) AS score
    FROM page_text WHERE page_text MATCH ?
    ORDER BY score, rowid LIMIT ? OFFSET ?
"""
_HIT_ROWS_SQL = """
    SELECT id, case_id, document_id, number, language, doc_type
    FROM pages WHERE id IN (SELECT value FROM json_each(?))
"""
_SNIPPETS_SQL = """
    SELECT rowid, snippet(page_text, 0, ?, ?, ?, ?)
    FROM page_text WHERE page_text MATCH ? AND rowid IN (SELECT value FROM json_each(?))
"""
_TEXTS_SQL = "SELECT rowid, body FROM page_text WHERE rowid IN (SELECT value FROM json_each(?))"


# Filter tags and rows ---------------------------------------------------------------------------------------
def _tag(kind: str, value: str) -> str:
    # Hex keeps any id a single token of [0-9a-f] for unicode61, whatever characters it holds.
    return kind + value.encode().hex()


def _tags(doc: IndexedDocument, language: str | None) -> str:
    return " ".join((_tag("c", doc.case_id), _tag("t", doc.doc_type.lower()), _tag("l", language or UNKNOWN_LANGUAGE)))


def _match_expression(node: QueryNode, case_id: str | None, language: str | None, doc_type: str | None) -> str:
    filters = (("c", case_id), ("l", language), ("t", doc_type))
    parts = [f'{{tags}} : "{_tag(kind, value)}"' for kind, value in filters if value is not None]
    parts.append("{body} : " + to_fts5(node))
    return " AND ".join(parts)


class _Row(NamedTuple):
    number: int
    text: str
    language: str | None


def _prepare(doc: IndexedDocument, pages: Iterable[IndexedPage]) -> list[_Row]:
    rows: list[_Row] = []
    seen: set[int] = set()
    for page in pages:
        if page.number < 1:
            raise ValueError(f"page numbers start at 1 (document {doc.document_id})")
        if page.number in seen:
            raise ValueError(f"page {page.number} given twice (document {doc.document_id})")
        seen.add(page.number)
        text = clean_page_text(page.text) if page.text else ""
        if text.strip():
            rows.append(_Row(page.number, text, normalize_language(page.language)))
    return rows


# Fixed statements: the column is chosen by the caller's method, never from user text.
_DELETE_BY = {
    "document_id": (
        "DELETE FROM page_text WHERE rowid IN (SELECT id FROM pages WHERE document_id = ?)",
        "DELETE FROM pages WHERE document_id = ?",
    ),
    "case_id": (
        "DELETE FROM page_text WHERE rowid IN (SELECT id FROM pages WHERE case_id = ?)",
        "DELETE FROM pages WHERE case_id = ?",
    ),
}


# The backend ------------------------------------------------------------------------------------------------
class SqliteFtsIndex(SearchIndex):
    """The default backend: SQLite FTS5 in its own file (``path``), WAL mode.

    One object per process; threads may share it (calls are serialised, so a search through this object waits
    for its own rebuild; other objects and processes keep searching the old index until the rebuild commits).
    ``busy_timeout``: seconds a writer waits for another writer (a rebuild holds the write lock for its whole
    run). ``query_timeout``: seconds after which a search is stopped with ``QueryTooBroad``.

    Writes raise ``SearchIndexBusy`` (transient) or ``SearchIndexError`` (run a rebuild); a caller that indexes
    during ingest can record the document as not yet indexed and go on.

    ``Hit.score`` is BM25 relevance with the sign flipped so that higher is better (FTS5's ``bm25()`` is negative,
    lower is better). With a filter the scores are the same numbers as without it (document frequencies are
    counted over the whole index).
    """

    def __init__(self, path: Path, *, busy_timeout: float = 30.0, query_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.query_timeout = query_timeout
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._reader_conn: sqlite3.Connection | None = None
        self._writer_conn: sqlite3.Connection | None = None
        self._scratch_conn: sqlite3.Connection | None = None
        self._schema_checked = False
        self._deadline = 0.0
        self._interrupted = False

    # Connections --------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA journal_size_limit = 67108864")  # trim the WAL after a rebuild's big commit
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_fork(self) -> None:
        # A SQLite connection must not be used across fork(): the child opens its own.
        if os.getpid() != self._pid:
            self._reader_conn = self._writer_conn = self._scratch_conn = None
            self._schema_checked = False
            self._pid = os.getpid()

    def _writer(self) -> sqlite3.Connection:
        self._check_fork()
        if self._writer_conn is None:
            self._writer_conn = self._connect()
        return self._writer_conn

    def _reader(self) -> sqlite3.Connection:
        self._check_fork()
        self._ensure_schema()
        if self._reader_conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")  # searches cannot write, whatever reaches them
            conn.set_progress_handler(self._past_deadline, 1000)
            self._reader_conn = conn
        return self._reader_conn

    def _past_deadline(self) -> int:
        if self._deadline and time.monotonic() > self._deadline:
            self._interrupted = True
            return 1
        return 0

    def describe(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            for conn in (self._reader_conn, self._writer_conn, self._scratch_conn):
                if conn is not None:
                    conn.close()
            self._reader_conn = self._writer_conn = self._scratch_conn = None
            self._schema_checked = False

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite3 errors as the project's typed errors (by error code, never by message).

        The sqlite3 exception is not chained: its message can quote the MATCH expression, i.e. the user's
        query, and tracebacks end up in logs. Its error name is logged instead.
        """
        try:
            yield
        except sqlite3.ProgrammingError:
            raise  # a bug here, not a state of the index
        except sqlite3.DatabaseError as exc:
            interrupted, self._interrupted = self._interrupted, False
            name = getattr(exc, "sqlite_errorname", type(exc).__name__)
            if interrupted:
                logger.info("search stopped after %.1f s", self.query_timeout)
                raise QueryTooBroad(self.query_timeout) from None
            if _primary_code(exc) in _BUSY_CODES:
                logger.info("search index busy (%s)", name)
                raise SearchIndexBusy(self.path) from None
            logger.warning("search index error %s (%s)", name, type(exc).__name__)
            raise SearchIndexError(self.path) from None

    @staticmethod
    def _identity(conn: sqlite3.Connection) -> tuple[int, int, int]:
        """(number of schema objects, application_id, user_version) of the open file."""
        objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        return int(objects), int(app_id), int(version)

    def _ensure_schema(self) -> None:
        if self._schema_checked:
            return
        conn = self._writer()
        objects, app_id, version = self._identity(conn)
        if objects == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._identity(conn)[0] == 0:  # another process may have been first
                    for statement in _SCHEMA:
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
        elif app_id != APPLICATION_ID:
            raise SearchIndexError(self.path, foreign=True)
        elif version != SCHEMA_VERSION:
            raise SearchIndexError(self.path, outdated=True)
        self._schema_checked = True

    def _rollback(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            # The connection is in an unknown state: drop it (the next call reconnects).
            with suppress(sqlite3.Error):
                conn.close()
            if conn is self._writer_conn:
                self._writer_conn = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            self._ensure_schema()
            conn = self._writer()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise

    # Writing ------------------------------------------------------------------------------------------------
    @staticmethod
    def _delete(conn: sqlite3.Connection, column: str, value: str) -> int:
        fts_sql, pages_sql = _DELETE_BY[column]
        conn.execute(fts_sql, (value,))
        return conn.execute(pages_sql, (value,)).rowcount

    @staticmethod
    def _insert(conn: sqlite3.Connection, doc: IndexedDocument, rows: list[_Row], next_id: int) -> int:
        doc_type = doc.doc_type.lower()
        ids = range(next_id, next_id + len(rows))
        conn.executemany(
            "INSERT INTO pages (id, document_id, case_id, number, language, doc_type) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, doc.document_id, doc.case_id, r.number, r.language, doc_type) for i, r in zip(ids, rows, strict=True)],
        )
        conn.executemany(
            "INSERT INTO page_text (rowid, body, tags) VALUES (?, ?, ?)",
            [(i, r.text, _tags(doc, r.language)) for i, r in zip(ids, rows, strict=True)],
        )
        return next_id + len(rows)

    @staticmethod
    def _next_id(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM pages").fetchone()[0])

    def _write_documents(
        self,
        conn: sqlite3.Connection,
        documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]],
        case_id: str | None = None,
    ) -> tuple[int, int]:
        next_id = self._next_id(conn)
        docs = pages = 0
        seen: set[str] = set()
        for doc, doc_pages in documents:
            if case_id is not None and doc.case_id != case_id:
                raise ValueError(f"document {doc.document_id} belongs to case {doc.case_id}, not {case_id}")
            if doc.document_id in seen:
                raise ValueError(f"document {doc.document_id} given twice")
            seen.add(doc.document_id)
            rows = _prepare(doc, doc_pages)
            next_id = self._insert(conn, doc, rows, next_id)
            docs += 1
            pages += len(rows)
        return docs, pages

    def replace_document(self, doc: IndexedDocument, pages: Iterable[IndexedPage]) -> int:
        rows = _prepare(doc, pages)  # before taking the write lock: the caller's iterator may be slow or fail
        with self._transaction() as conn:
            removed = self._delete(conn, "document_id", doc.document_id)
            self._insert(conn, doc, rows, self._next_id(conn))
        logger.debug("search index: document replaced (%d pages out, %d in)", removed, len(rows))
        return len(rows)

    def replace_case(self, case_id: str, documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]]) -> int:
        started = time.perf_counter()
        with self._transaction() as conn:
            removed = self._delete(conn, "case_id", case_id)
            docs, pages = self._write_documents(conn, documents, case_id)
        logger.info(
            "search index: case replaced (%d pages out; %d documents, %d pages in; %.2f s)",
            removed,
            docs,
            pages,
            time.perf_counter() - started,
        )
        return pages

    def delete_document(self, document_id: str) -> int:
        with self._transaction() as conn:
            return self._delete(conn, "document_id", document_id)

    def delete_case(self, case_id: str) -> int:
        with self._transaction() as conn:
            return self._delete(conn, "case_id", case_id)

    def rebuild(self, documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]]) -> int:
        # In place, in one write transaction, rather than building a new file and renaming it over the old
        # one: in WAL mode the old file's -wal and -shm stay behind under the same names and would be replayed
        # into the new file, and processes holding the old file open would keep reading (and writing) an
        # unlinked copy. The transaction gives the same promise (all or nothing; readers keep searching their
        # snapshot of the old index until the commit) without either risk, and holds the write lock, so a
        # document indexed meanwhile waits instead of being silently overwritten.
        started = time.perf_counter()
        with self._lock, self._errors():
            conn = self._begin_rebuild()
            try:
                docs, pages = self._write_documents(conn, documents)
                # One segment makes every later query faster; done before the commit so that readers switch
                # straight from the old index to the finished new one.
                conn.execute("INSERT INTO page_text (page_text) VALUES ('optimize')")
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
            self._schema_checked = True
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # best effort: a reader may still hold the WAL
        logger.info(
            "search index rebuilt: %d documents, %d pages in %.1f s", docs, pages, time.perf_counter() - started
        )
        return pages

    def _begin_rebuild(self) -> sqlite3.Connection:
        """A write transaction on an emptied index with the current schema. A file SQLite cannot read at all
        is first set aside (before any document has been read from the caller)."""
        try:
            return self._reset()
        except sqlite3.DatabaseError as exc:
            if _primary_code(exc) not in _DAMAGED_CODES:
                raise
        self._set_damaged_file_aside()
        return self._reset()

    def _reset(self) -> sqlite3.Connection:
        conn = self._writer()
        conn.execute("BEGIN IMMEDIATE")
        try:
            objects, app_id, _ = self._identity(conn)
            if objects and app_id != APPLICATION_ID:
                raise SearchIndexError(self.path, foreign=True)  # never drop the tables of somebody else's file
            # Virtual tables first: dropping one drops its shadow tables. Names come from our own file.
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY sql NOT LIKE 'CREATE VIRTUAL%'"
            ).fetchall():
                if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone():
                    conn.execute('DROP TABLE "{}"'.format(name.replace('"', '""')))
            for statement in _SCHEMA:
                conn.execute(statement)
        except BaseException:
            self._rollback(conn)
            raise
        return conn

    def _set_damaged_file_aside(self) -> None:
        # Moved aside, not deleted: the path might point at somebody else's file by mistake. The index itself
        # is rebuilt from the catalog, so nothing is lost.
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(Path(f"{aside}{suffix}"))
        logger.warning("search index unreadable: moved aside to %s before rebuilding", aside)

    def optimize(self) -> None:
        """Merge the index into one segment (after much incremental indexing); searches keep working."""
        with self._transaction() as conn:
            conn.execute("INSERT INTO page_text (page_text) VALUES ('optimize')")

    # Reading ------------------------------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot for all statements of a read, under the query time limit."""
        with self._lock, self._errors():
            conn = self._reader()
            self._interrupted = False
            self._deadline = time.monotonic() + self.query_timeout
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                self._deadline = 0.0
                self._interrupted_rollback(conn)

    def _interrupted_rollback(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            with suppress(sqlite3.Error):
                conn.close()
            self._reader_conn = None

    def _match(
        self, query: str | QueryNode, case_id: str | None, language: str | None, doc_type: str | None
    ) -> tuple[QueryNode, str]:
        node = parse_query(query) if isinstance(query, str) else query
        filters = search_filters(case_id, language, doc_type)
        return node, _match_expression(node, filters.case_id, filters.language, filters.doc_type)

    def fts5_expression(
        self,
        query: str | QueryNode,
        *,
        case_id: str | None = None,
        language: str | None = None,
        doc_type: str | None = None,
    ) -> str:
        """The FTS5 MATCH expression ``search`` would use (for diagnostics and benchmarks; not for logs)."""
        return self._match(query, case_id, language, doc_type)[1]

    def search(
        self,
        query: str | QueryNode,
        *,
        case_id: str | None = None,
        language: str | None = None,
        doc_type: str | None = None,
        limit: int = 20,
        offset: int = 0,
        snippet_words: int = 24,
    ) -> list[Hit]:
        check_paging(limit, offset, snippet_words)
        node, expr = self._match(query, case_id, language, doc_type)
        started = time.perf_counter()
        with self._read() as conn:
            ranked = conn.execute(_SEARCH_SQL, (expr, limit, offset)).fetchall()
            if not ranked:
                return []
            ids = json.dumps([rowid for rowid, _ in ranked])
            rows = {row[0]: row for row in conn.execute(_HIT_ROWS_SQL, (ids,)).fetchall()}
            if _has_prefix(node):
                texts = dict(conn.execute(_TEXTS_SQL, (ids,)).fetchall())
                marked = self._scratch_snippets(texts, to_fts5(node), snippet_words)
            else:
                marked = conn.execute(
                    _SNIPPETS_SQL, (MATCH_START, MATCH_END, ELLIPSIS, snippet_words, expr, ids)
                ).fetchall()
        snippets = {rowid: snippet_fragments(text) for rowid, text in marked}
        hits = [
            Hit(
                case_id=row[1],
                document_id=row[2],
                page=row[3],
                language=row[4],
                doc_type=row[5],
                score=-score,
                fragments=snippets.get(rowid, ()),
            )
            for rowid, score in ranked
            if (row := rows.get(rowid)) is not None
        ]
        logger.debug("search: %d hits in %.1f ms", len(hits), (time.perf_counter() - started) * 1000)
        return hits

    def _scratch_snippets(self, texts: dict[int, str], body_expr: str, words: int) -> list[tuple[int, str]]:
        """Snippets of a prefix query, from a scratch in-memory FTS5 table with the same tokenizer.

        Asking the big index for the snippets of given rowids re-expands a prefix (merging the doclists of every
        matching word) once per page; re-tokenising the returned pages is far cheaper (benchmarks/README.md) and
        gives the same snippets: the body expression matches each of these pages on its own, and snippet() looks
        at nothing but the page.
        """
        with self._lock:
            self._check_fork()
            if self._scratch_conn is None:
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                conn.execute(f"CREATE VIRTUAL TABLE scratch USING fts5(body, tokenize = '{TOKENIZER}')")
                self._scratch_conn = conn
            conn = self._scratch_conn
            conn.execute("BEGIN")
            try:
                conn.executemany("INSERT INTO scratch (rowid, body) VALUES (?, ?)", texts.items())
                marked: list[tuple[int, str]] = conn.execute(
                    "SELECT rowid, snippet(scratch, 0, ?, ?, ?, ?) FROM scratch WHERE scratch MATCH ?",
                    (MATCH_START, MATCH_END, ELLIPSIS, words, body_expr),
                ).fetchall()
            finally:
                conn.execute("ROLLBACK")  # the scratch table stays empty
        return marked

    def count(
        self,
        query: str | QueryNode,
        *,
        case_id: str | None = None,
        language: str | None = None,
        doc_type: str | None = None,
    ) -> int:
        _, expr = self._match(query, case_id, language, doc_type)
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM page_text WHERE page_text MATCH ?", (expr,)).fetchone()[0])

    def count_pages(self, *, case_id: str | None = None, document_id: str | None = None) -> int:
        with self._read() as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM pages"
                    " WHERE (?1 IS NULL OR case_id = ?1) AND (?2 IS NULL OR document_id = ?2)",
                    (case_id, document_id),
                ).fetchone()[0]
            )

    def stats(self) -> IndexStats:
        with self._read() as conn:
            pages, documents, cases = conn.execute(
                "SELECT count(*), count(DISTINCT document_id), count(DISTINCT case_id) FROM pages"
            ).fetchone()
            languages: Counter[str] = Counter()
            for language, n in conn.execute("SELECT language, count(*) FROM pages GROUP BY language"):
                languages[language or UNKNOWN_LANGUAGE] += n
            doc_types = dict(conn.execute("SELECT doc_type, count(*) FROM pages GROUP BY doc_type").fetchall())
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return IndexStats(int(pages), int(documents), int(cases), dict(languages), doc_types, size)

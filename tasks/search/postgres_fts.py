"""The PostgreSQL backend of ``index.SearchIndex``: full-text search on the practice's database server.

Owns everything PostgreSQL: its schema (a table per index in the schema ``casefile_search``, beside the catalog's
tables but never part of them: the index is rebuilt from the catalog), the text search configuration
``casefile_search.folded`` (``unaccent`` then ``simple``: accents and case folded, no stemming, no stop words), the
compilation of query trees to ``tsquery`` and the snippets (``ts_headline``).

Matching is the one ``query`` promises and the SQLite FTS5 backend keeps, word for word: a page's text is cut into
words here, in Python, exactly as FTS5's ``unicode61`` tokenizer cuts it (runs of letters, digits and private-use
characters), folded the same way (lower case; diacritics removed from Latin letters, ``remove_diacritics 2``), and
handed to PostgreSQL as a ready ``tsvector``; queries become ``tsquery`` values built from the same words. So both
backends find the same pages for the same query (tests/test_index.py, run on both), and nothing typed by a user is
ever parsed by PostgreSQL's query parser. Stemming (``english``/``spanish``) and stop words were left out on
purpose: they change which pages a query finds (a search for "no pagó" would drop "no") and in evidence search a
page found by the word typed is what people rely on.

Ranking: with the RUM extension on the server, a RUM index hands matches out in rank order (``words <=> query``),
so only the returned page of hits is read and ranked; without it, a GIN index serves matching and ``ts_rank``
(normalised by the page's length) ranks every match. Same hits either way. Only the returned page of hits gets a
``ts_headline`` snippet; filters use b-tree indexes (case, document).

Concurrency: readers see a consistent snapshot (MVCC), so a ``rebuild`` (one transaction) is invisible until it
commits. Writers take a lock on the index's table that only writers conflict on, waiting up to ``busy_timeout``
seconds (then ``SearchIndexBusy``); searches run under ``statement_timeout`` (then ``QueryTooBroad``).
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

logger = logging.getLogger(__name__)

SCHEMA = "casefile_search"
CONFIG = f"{SCHEMA}.folded"
SCHEMA_VERSION = 1
MAX_POSITIONS = 16383  # PostgreSQL's largest word position in a tsvector (later words share it)
MAX_LEXEME_BYTES = 2046  # PostgreSQL refuses longer words; no real word is that long


# Words, as FTS5's unicode61 tokenizer (remove_diacritics 2) makes them --------------------------------------
def _fold(token: str) -> str:
    """Lower case, and diacritics removed from Latin letters (FTS5 leaves other scripts' marks alone)."""
    token = token.lower()
    if token.isascii():
        return token
    out = []
    for ch in token:
        if ord(ch) < 0x80 or not _is_latin(ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        out.append(base or ch)
    return "".join(out)


def _is_latin(ch: str) -> bool:
    code = ord(ch)
    return code < 0x250 or 0x1E00 <= code <= 0x1EFF or 0x2C60 <= code <= 0x2C7F or 0xA720 <= code <= 0xA7FF


# Runs of letters and digits (\w without "_"); private-use characters count as letters, as in FTS5.
_TOKEN = re.compile(r"(?:[^\W_]|[\ue000-\uf8ff])+")


def words(text: str) -> list[str]:
    """The words of ``text`` (already ``clean_page_text``/``normalize_text``), folded, in order."""
    return [token.lower() if token.isascii() else _fold(token) for token in _TOKEN.findall(text)]


def _quote(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def to_tsvector_literal(text: str) -> str:
    """The page's words with their positions, as a ``tsvector`` literal."""
    positions: dict[str, list[int]] = defaultdict(list)
    for position, word in enumerate(words(text), start=1):
        if len(word.encode()) > MAX_LEXEME_BYTES:
            continue
        found = positions[word]
        if len(found) < 256:  # PostgreSQL keeps at most 256 positions of one word
            found.append(min(position, MAX_POSITIONS))
    return " ".join(f"{_quote(w)}:{','.join(map(str, p))}" for w, p in positions.items())


class _Unsearchable(Exception):
    """A term with no words in it (punctuation only): matches nothing."""


def _term_query(term: Term) -> str:
    parts = [w for w in words(term.text) if len(w.encode()) <= MAX_LEXEME_BYTES]
    if not parts:
        raise _Unsearchable
    quoted = [_quote(w) for w in parts]
    if term.prefix:
        quoted[-1] += ":*"
    return quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")"


def to_tsquery(node: QueryNode) -> str | None:
    """Compile a query tree to ``tsquery`` text: every word quoted, so no user text is read as an operator.
    None when nothing in it can match."""
    try:
        return _compile(node)
    except _Unsearchable:
        return None


def _compile(node: QueryNode) -> str:
    if isinstance(node, Term):
        return _term_query(node)
    if isinstance(node, AnyOf):
        options = []
        for option in node.options:
            try:
                options.append(_compile(option))
            except _Unsearchable:
                continue
        if not options:
            raise _Unsearchable
        return "(" + " | ".join(options) + ")"
    expr = "(" + " & ".join(_compile(part) for part in node.include) + ")"
    for part in node.exclude:
        try:
            expr = f"({expr} & !{_compile(part)})"
        except _Unsearchable:
            continue  # leaving out a word that cannot occur leaves everything in
    return expr


# Schema ---------------------------------------------------------------------------------------------------------
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def _table_sql(table: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} (
            id BIGSERIAL,
            document_id TEXT NOT NULL,
            case_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            language TEXT,
            doc_type TEXT NOT NULL,
            body TEXT NOT NULL,
            words TSVECTOR NOT NULL,
            CONSTRAINT {table}_pkey PRIMARY KEY (id),
            CONSTRAINT {table}_page UNIQUE (document_id, number)
        )"""


def _index_sql(table: str, rum: bool) -> list[str]:
    method = "rum (words rum_tsvector_ops)" if rum else "GIN (words)"
    return [
        f"CREATE INDEX IF NOT EXISTS {table}_case ON {SCHEMA}.{table} (case_id)",
        f"CREATE INDEX IF NOT EXISTS {table}_words ON {SCHEMA}.{table} USING {method}",
    ]


def _schema_sql(table: str, rum: bool) -> list[str]:
    return [
        _table_sql(table),
        *_index_sql(table, rum),
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)""",
        f"INSERT INTO {SCHEMA}.versions VALUES ('{table}', {SCHEMA_VERSION}) ON CONFLICT (name) DO NOTHING",
    ]


_CONFIG_SQL = [
    f"""DO $$ BEGIN
        CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.simple);
        ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR
            asciiword, word, numword, asciihword, hword, numhword, hword_asciipart, hword_part, hword_numpart
            WITH unaccent, simple;
    EXCEPTION WHEN unique_violation OR duplicate_object THEN NULL; END $$""",
]
_SCHEMA_LOCK = 0x43465358  # advisory lock "CFSX": machines creating the schema at once do it once


class PostgresFtsIndex(SearchIndex):
    """Search index in a PostgreSQL database (``url``: a SQLAlchemy URL, usually the catalog's), table ``table``
    of the schema ``casefile_search`` ("pages" for case documents; the country-conditions library has its own).

    Threads and processes may share the database; each object keeps one connection pool. ``Hit.score`` is
    ``ts_rank`` with length normalisation (higher is better; comparable within one query only).
    """

    def __init__(
        self,
        url: str | Engine,
        *,
        table: str = "pages",
        busy_timeout: float = 30.0,
        query_timeout: float = 10.0,
        use_rum: bool = True,
    ) -> None:
        if not _NAME.match(table):
            raise ValueError(f"invalid index table name {table!r}")
        self.table = table
        self._qualified = f"{SCHEMA}.{table}"
        self.busy_timeout = busy_timeout
        self.query_timeout = query_timeout
        self._url = url
        self._engine: Engine | None = None if isinstance(url, str) else url
        self._owns_engine = isinstance(url, str)
        self._schema_checked = False
        self.use_rum = use_rum  # when the server has the extension and the index is created
        self._ranked_by_index = False

    # Connections ------------------------------------------------------------------------------------------------
    def _get_engine(self) -> Engine:
        if self._engine is None:
            from sqlalchemy import create_engine

            assert isinstance(self._url, str)
            self._engine = create_engine(self._url, future=True, pool_pre_ping=True)
        return self._engine

    def close(self) -> None:
        if self._engine is not None and self._owns_engine:
            self._engine.dispose()
            self._engine = None
        self._schema_checked = False

    def describe(self) -> str:
        engine = self._get_engine()
        return f"PostgreSQL {engine.url.host}:{engine.url.port}/{engine.url.database} ({self._qualified})"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as the project's typed errors (by SQLSTATE, never by message; the driver's message can
        quote the query, so it is not chained)."""
        from sqlalchemy.exc import DBAPIError

        try:
            yield
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None) or ""
            if code == "57014":  # query_canceled: our statement_timeout
                logger.info("search stopped after %.1f s", self.query_timeout)
                raise QueryTooBroad(self.query_timeout) from None
            if code in ("55P03", "40P01", "40001"):  # lock_not_available, deadlock, serialization failure
                logger.info("search index busy (%s)", code)
                raise SearchIndexBusy(self.describe()) from None
            if exc.connection_invalidated or code.startswith("08"):
                logger.warning("search index unreachable (%s)", type(exc.orig).__name__)
                raise SearchIndexBusy(self.describe()) from None
            logger.warning("search index error %s (%s)", code, type(exc.orig).__name__)
            raise SearchIndexError(self.describe()) from None

    def _ensure_schema(self, conn: Connection) -> None:
        from sqlalchemy import text

        if self._schema_checked:
            return
        present = conn.execute(
            text("SELECT to_regclass(:t) IS NOT NULL, to_regclass(:v) IS NOT NULL"),
            {"t": self._qualified, "v": f"{SCHEMA}.versions"},
        ).one()
        if not present[0]:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
            rum = self.use_rum and self._create_rum(conn)
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            for statement in _CONFIG_SQL + _schema_sql(self.table, rum):
                conn.execute(text(statement))
        else:
            version = conn.execute(
                text(f"SELECT version FROM {SCHEMA}.versions WHERE name = :n"), {"n": self.table}
            ).scalar_one_or_none()
            if version != SCHEMA_VERSION:
                raise SearchIndexError(self.describe(), outdated=True)
        method = conn.execute(
            text("SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.oid = to_regclass(:i)"),
            {"i": f"{SCHEMA}.{self.table}_words"},
        ).scalar_one_or_none()
        self._ranked_by_index = method == "rum"
        self._schema_checked = True

    @staticmethod
    def _create_rum(conn: Connection) -> bool:
        """The RUM extension (Debian: postgresql-NN-rum) when the server has it: an index that returns matches in
        rank order, so a search ranks only the pages it returns (benchmarks/README.md). Without it: GIN."""
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS rum"))
        except DBAPIError:
            logger.info("the RUM extension is not available: the search index uses GIN")
            return False
        return True

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction holding the writers' lock on the table (readers are never blocked)."""
        from sqlalchemy import text

        with self._errors(), self._get_engine().begin() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = {int(self.busy_timeout * 1000)}"))
            self._ensure_schema(conn)
            conn.execute(text(f"LOCK TABLE {self._qualified} IN SHARE ROW EXCLUSIVE MODE"))
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One snapshot for every statement of a read, under the query time limit."""
        from sqlalchemy import text

        with self._errors(), self._get_engine().connect() as conn:
            if not self._schema_checked:
                with conn.begin():
                    self._ensure_schema(conn)
            with conn.begin():
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                conn.execute(text(f"SET LOCAL statement_timeout = {max(1, int(self.query_timeout * 1000))}"))
                yield conn

    # Writing ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _rows(doc: IndexedDocument, pages: Iterable[IndexedPage]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        for page in pages:
            if page.number < 1:
                raise ValueError(f"page numbers start at 1 (document {doc.document_id})")
            if page.number in seen:
                raise ValueError(f"page {page.number} given twice (document {doc.document_id})")
            seen.add(page.number)
            body = clean_page_text(page.text) if page.text else ""
            if not body.strip():
                continue
            rows.append(
                {
                    "document_id": doc.document_id,
                    "case_id": doc.case_id,
                    "number": page.number,
                    "language": normalize_language(page.language),
                    "doc_type": doc.doc_type.lower(),
                    "body": body.replace("\x00", " "),
                    "words": to_tsvector_literal(body),
                }
            )
        return rows

    def _insert(self, conn: Connection, rows: list[dict[str, Any]], into: str | None = None) -> None:
        from sqlalchemy import text

        if rows:
            conn.execute(
                text(
                    f"INSERT INTO {into or self._qualified}"
                    " (document_id, case_id, number, language, doc_type, body, words)"
                    " VALUES (:document_id, :case_id, :number, :language, :doc_type, :body, CAST(:words AS tsvector))"
                ),
                rows,
            )

    def _delete(self, conn: Connection, column: str, value: str) -> int:
        from sqlalchemy import text

        assert column in ("document_id", "case_id")  # chosen by the method, never from user text
        return int(conn.execute(text(f"DELETE FROM {self._qualified} WHERE {column} = :v"), {"v": value}).rowcount)

    def _write_documents(
        self,
        conn: Connection,
        documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]],
        case_id: str | None = None,
        into: str | None = None,
    ) -> tuple[int, int]:
        docs = pages = 0
        seen: set[str] = set()
        batch: list[dict[str, Any]] = []
        for doc, doc_pages in documents:
            if case_id is not None and doc.case_id != case_id:
                raise ValueError(f"document {doc.document_id} belongs to case {doc.case_id}, not {case_id}")
            if doc.document_id in seen:
                raise ValueError(f"document {doc.document_id} given twice")
            seen.add(doc.document_id)
            rows = self._rows(doc, doc_pages)
            batch.extend(rows)
            docs += 1
            pages += len(rows)
            if len(batch) >= 2000:
                self._insert(conn, batch, into)
                batch = []
        self._insert(conn, batch, into)
        return docs, pages

    def replace_document(self, doc: IndexedDocument, pages: Iterable[IndexedPage]) -> int:
        rows = self._rows(doc, pages)  # before the lock: the caller's iterator may be slow or fail
        with self._write() as conn:
            removed = self._delete(conn, "document_id", doc.document_id)
            self._insert(conn, rows)
        logger.debug("search index: document replaced (%d pages out, %d in)", removed, len(rows))
        return len(rows)

    def replace_case(self, case_id: str, documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]]) -> int:
        started = time.perf_counter()
        with self._write() as conn:
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
        with self._write() as conn:
            return self._delete(conn, "document_id", document_id)

    def delete_case(self, case_id: str) -> int:
        with self._write() as conn:
            return self._delete(conn, "case_id", case_id)

    def rebuild(self, documents: Iterable[tuple[IndexedDocument, Iterable[IndexedPage]]]) -> int:
        """Into a new table, indexed once filled (far faster than keeping the index up to date row by row), which
        then takes the old one's place in the same transaction: searches read the old index until the commit,
        waiting only for the moment of the swap; nothing of a failed rebuild remains."""
        from sqlalchemy import text

        started = time.perf_counter()
        new = f"{self.table}_new"
        with self._write() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {SCHEMA}.{new}"))
            conn.execute(text(_table_sql(new)))
            docs, pages = self._write_documents(conn, documents, into=f"{SCHEMA}.{new}")
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            for statement in _index_sql(new, self._ranked_by_index):
                conn.execute(text(statement))
            conn.execute(text(f"DROP TABLE {self._qualified}"))
            conn.execute(text(f"ALTER TABLE {SCHEMA}.{new} RENAME TO {self.table}"))
            for suffix in ("case", "words"):
                conn.execute(text(f"ALTER INDEX {SCHEMA}.{new}_{suffix} RENAME TO {self.table}_{suffix}"))
            for suffix in ("pkey", "page"):
                conn.execute(
                    text(f"ALTER TABLE {self._qualified} RENAME CONSTRAINT {new}_{suffix} TO {self.table}_{suffix}")
                )
        with self._errors(), self._get_engine().connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(f"ANALYZE {self._qualified}"))
        logger.info(
            "search index rebuilt: %d documents, %d pages in %.1f s", docs, pages, time.perf_counter() - started
        )
        return pages

    # Reading ----------------------------------------------------------------------------------------------------
    def _where(
        self, query: str | QueryNode, case_id: str | None, language: str | None, doc_type: str | None
    ) -> tuple[QueryNode, str | None, str, dict[str, Any]]:
        node = parse_query(query) if isinstance(query, str) else query
        filters = search_filters(case_id, language, doc_type)
        tsquery = to_tsquery(node)
        clauses = ["words @@ CAST(:q AS tsquery)"]
        params: dict[str, Any] = {"q": tsquery}
        for column, value in (("case_id", filters.case_id), ("language", filters.language)):
            if value is not None:
                clauses.append(f"{column} = :{column}")
                params[column] = value
        if filters.doc_type is not None:
            clauses.append("doc_type = :doc_type")
            params["doc_type"] = filters.doc_type
        return node, tsquery, " AND ".join(clauses), params

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
        from sqlalchemy import text

        check_paging(limit, offset, snippet_words)
        _node, tsquery, where, params = self._where(query, case_id, language, doc_type)
        if tsquery is None:
            return []
        started = time.perf_counter()
        options = (
            f'StartSel="{MATCH_START}", StopSel="{MATCH_END}", MaxWords={snippet_words}, '
            f"MinWords={max(1, min(snippet_words - 1, snippet_words // 2))}, ShortWord=0, MaxFragments=1, "
            'FragmentDelimiter=" "'
        )
        # Rank every match (the GIN index finds them), keep the page asked for, then make snippets for those only.
        # ts_headline would drop anything that looks like an HTML tag from the snippet: a zero-width space after
        # each "<" keeps the page's text as written (snippet_fragments removes it again, with every format char).
        headline = f"ts_headline('{CONFIG}', replace(p.body, '<', '<' || chr(8203)), CAST(:q AS tsquery), :options)"
        if self._ranked_by_index:
            # RUM hands matches out in rank order (distance = 1 / rank): only the first offset + limit are read.
            ranked = f"""
                SELECT id, case_id, document_id, number, language, doc_type,
                       words <=> CAST(:q AS tsquery) AS distance
                FROM {self._qualified} WHERE {where}
                ORDER BY words <=> CAST(:q AS tsquery) LIMIT :window"""
            sql = f"""
                WITH ranked AS ({ranked}),
                page AS (SELECT * FROM ranked ORDER BY distance, id LIMIT :limit OFFSET :offset)
                SELECT r.id, r.case_id, r.document_id, r.number, r.language, r.doc_type,
                       CASE WHEN r.distance > 0 THEN 1 / r.distance ELSE 0 END, {headline}, p.body
                FROM page r JOIN {self._qualified} p ON p.id = r.id
                ORDER BY r.distance, r.id
            """
        else:
            sql = f"""
                WITH ranked AS (
                    SELECT id, case_id, document_id, number, language, doc_type,
                           ts_rank(words, CAST(:q AS tsquery), 1) AS score
                    FROM {self._qualified} WHERE {where}
                    ORDER BY score DESC, id LIMIT :limit OFFSET :offset
                )
                SELECT r.id, r.case_id, r.document_id, r.number, r.language, r.doc_type, r.score, {headline}, p.body
                FROM ranked r JOIN {self._qualified} p ON p.id = r.id
                ORDER BY r.score DESC, r.id
            """
        with self._read() as conn:
            values = {**params, "limit": limit, "offset": offset, "window": offset + limit, "options": options}
            rows = conn.execute(text(sql), values).all()
        hits = [
            Hit(
                case_id=row[1],
                document_id=row[2],
                page=row[3],
                language=row[4],
                doc_type=row[5],
                score=float(row[6]),
                fragments=snippet_fragments(_with_ellipses(_merge_marks(row[7]), row[8])),
            )
            for row in rows
        ]
        logger.debug("search: %d hits in %.1f ms", len(hits), (time.perf_counter() - started) * 1000)
        return hits

    def count(
        self,
        query: str | QueryNode,
        *,
        case_id: str | None = None,
        language: str | None = None,
        doc_type: str | None = None,
    ) -> int:
        from sqlalchemy import text

        _node, tsquery, where, params = self._where(query, case_id, language, doc_type)
        if tsquery is None:
            return 0
        with self._read() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self._qualified} WHERE {where}"), params).scalar_one())

    def count_pages(self, *, case_id: str | None = None, document_id: str | None = None) -> int:
        from sqlalchemy import text

        with self._read() as conn:
            return int(
                conn.execute(
                    text(
                        f"SELECT count(*) FROM {self._qualified} WHERE (CAST(:c AS text) IS NULL OR case_id = :c)"
                        " AND (CAST(:d AS text) IS NULL OR document_id = :d)"
                    ),
                    {"c": case_id, "d": document_id},
                ).scalar_one()
            )

    def stats(self) -> IndexStats:
        from sqlalchemy import text

        with self._read() as conn:
            pages, documents, cases = conn.execute(
                text(f"SELECT count(*), count(DISTINCT document_id), count(DISTINCT case_id) FROM {self._qualified}")
            ).one()
            languages: Counter[str] = Counter()
            for language, n in conn.execute(text(f"SELECT language, count(*) FROM {self._qualified} GROUP BY 1")):
                languages[language or UNKNOWN_LANGUAGE] += n
            doc_types = {
                t: int(n) for t, n in conn.execute(text(f"SELECT doc_type, count(*) FROM {self._qualified} GROUP BY 1"))
            }
            size = conn.execute(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": self._qualified})
            size_bytes = int(size.scalar_one() or 0)
        return IndexStats(int(pages), int(documents), int(cases), dict(languages), doc_types, size_bytes)


_ADJACENT_MARKS = re.compile(f"{MATCH_END}(\\s+){MATCH_START}")


def _merge_marks(marked: str) -> str:
    """Words of one match next to each other become one marked stretch, as FTS5 marks a phrase."""
    return _ADJACENT_MARKS.sub(r"\1", marked)


def _with_ellipses(marked: str, body: str) -> str:
    """ "…" where the snippet cuts the page's text (ts_headline does not say)."""
    plain = " ".join(marked.replace(MATCH_START, "").replace(MATCH_END, "").replace("\u200b", "").split())
    text = " ".join(body.split())
    if not plain or plain == text:
        return marked
    at = text.find(plain)
    if at < 0:
        return marked
    before = ELLIPSIS if at > 0 else ""
    after = ELLIPSIS if at + len(plain) < len(text) else ""
    return before + marked.strip() + after

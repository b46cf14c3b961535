"""The catalog: business state (cases, documents, pages, intake batches, audit events).

SQLAlchemy 2 ORM; SQLite by default, PostgreSQL by changing ``database_url`` (``postgresql+psycopg://...``): the
same models and the same Alembic migrations (tasks/core/migrations) on both; ``Catalog`` brings a database to the
head revision (on PostgreSQL under an advisory lock, so machines starting at once migrate it once).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

# Bump together with a new file in tasks/core/migrations/versions.
HEAD_REVISION = "0011_ocr_parts"

# Crockford-like alphabet without 0/O, 1/I/L, U: easy to read aloud and to type.
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str, length: int) -> str:
    return prefix + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    client_name: Mapped[str] = mapped_column(String(200))
    a_number: Mapped[str] = mapped_column(String(9), index=True)
    court: Mapped[str] = mapped_column(String(200))
    judge: Mapped[str | None] = mapped_column(String(200))
    hearing_date: Mapped[date] = mapped_column(Date)
    hearing_type: Mapped[str] = mapped_column(String(20))
    hearing_time: Mapped[time | None] = mapped_column(Time)  # printed on the cover page when known
    detained: Mapped[bool] = mapped_column(Boolean, default=False)
    filing_deadline_override: Mapped[date | None] = mapped_column(Date)
    advocate: Mapped[str | None] = mapped_column(String(40))  # people key in config/practice.toml: the default filer
    uscis_role: Mapped[str | None] = mapped_column(String(20))  # applicant | petitioner | beneficiary (USCIS filings)
    receipt_number: Mapped[str | None] = mapped_column(String(20))  # USCIS receipt number, when there is one
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    documents: Mapped[list[Document]] = relationship(back_populates="case", order_by="Document.created_at")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("case_id", "sha256", name="uq_document_case_sha"),)

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    original_key: Mapped[str | None] = mapped_column(String(300))
    original_name: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # pdf, jpeg, png, tiff, heic, unknown
    doc_type: Mapped[str] = mapped_column(String(40), default="unclassified")
    # What a person set (`casefile doc set`): the document's title and its own date, proposed in exhibit plans.
    title: Mapped[str | None] = mapped_column(String(300))
    doc_date: Mapped[date | None] = mapped_column(Date)
    # A person confirmed that the document belongs to the case although its text names another A-number or person.
    identity_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))  # ready | quarantined
    quarantine_reason: Mapped[str | None] = mapped_column(String(40))
    quarantine_detail: Mapped[str | None] = mapped_column(Text)
    normalised_key: Mapped[str | None] = mapped_column(String(300))
    normalised_sha256: Mapped[str | None] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    # OCR: pending (not yet looked at) | done | partial (some pages failed) | failed | skipped
    ocr_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    searchable_key: Mapped[str | None] = mapped_column(String(300))
    searchable_sha256: Mapped[str | None] = mapped_column(String(64))
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime)  # when its pages went into the search index
    batch_id: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="documents")
    pages: Mapped[list[Page]] = relationship(
        back_populates="document", order_by="Page.number", cascade="all, delete-orphan"
    )


class Page(Base):
    __tablename__ = "pages"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based
    width_pt: Mapped[float]
    height_pt: Mapped[float]
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    # For image-based pages: pixel size of the page image (0 when the page is born digital).
    image_width_px: Mapped[int] = mapped_column(Integer, default=0)
    image_height_px: Mapped[int] = mapped_column(Integer, default=0)
    # Text of the page: from its own text layer or from OCR. None until the page was processed.
    text: Mapped[str | None] = mapped_column(Text)
    text_source: Mapped[str | None] = mapped_column(String(20))  # text-layer | ocr | blank | skipped | failed
    ocr_confidence: Mapped[float | None]
    language: Mapped[str | None] = mapped_column(String(8))  # ISO 639-1
    low_confidence: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    words_json: Mapped[str | None] = mapped_column(Text)  # [[text, conf, x0, y0, x1, y1], ...] in points
    ocr_error: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship(back_populates="pages")


class OcrPart(Base):
    """A range of a long document's pages OCR'd by one flow run on a work pool (tasks/documents/split.py): the
    claim, the sign of life, and the searchable PDF of those pages once its results are in the catalog. A part's
    results are written once, in the transaction that marks it done (under a row lock), whichever run gets there
    first; a run that finds it done keeps nothing."""

    __tablename__ = "ocr_parts"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    first_page: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based, inclusive
    last_page: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | running | done
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs that claimed it
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # host:pid of the run that claimed it last
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)  # last sign of life of the claiming run
    searchable_key: Mapped[str | None] = mapped_column(String(300))  # the range's pages with their OCR text layer
    searchable_sha256: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class IntakeBatch(Base):
    """One `casefile add`: the list of files to take in. The flow gets only the batch id."""

    __tablename__ = "intake_batches"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | running | done | failed
    doc_type: Mapped[str] = mapped_column(String(40), default="unclassified")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # `add --follow-symlinks`: links given or found are followed (default: refused, each with reason "symlink")
    follow_symlinks: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    hidden_skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # dot-files in folders

    items: Mapped[list[IntakeItem]] = relationship(order_by="IntakeItem.seq", cascade="all, delete-orphan")


class IntakeItem(Base):
    __tablename__ = "intake_items"

    batch_id: Mapped[str] = mapped_column(ForeignKey("intake_batches.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_path: Mapped[str] = mapped_column(Text)
    # pending | stored | duplicate | quarantined | failed
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    document_id: Mapped[str | None] = mapped_column(String(16))
    sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(40))
    message: Mapped[str | None] = mapped_column(Text)
    # What taking the file again repaired in the case: JSON list of codes ("original-restored", "quarantine-lifted"...)
    repaired: Mapped[str | None] = mapped_column(Text)


class Translation(Base):
    """An English translation of a foreign-language document, and what its translator's certificate says."""

    __tablename__ = "translations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    # The foreign-language document translated, and the translation itself (stored as a document of the case).
    source_document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), unique=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    source_language: Mapped[str] = mapped_column(String(8))  # ISO 639-1
    translator_name: Mapped[str] = mapped_column(String(200))
    translator_address: Mapped[str] = mapped_column(Text, default="")
    translator_phone: Mapped[str] = mapped_column(String(60), default="")
    translator_email: Mapped[str] = mapped_column(String(200), default="")
    certified_on: Mapped[date] = mapped_column(Date)
    # How the translator signed the certificate: "electronic" (/s/ Name is printed) or None (by hand, after printing).
    signature: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    document: Mapped[Document] = relationship(foreign_keys=[document_id])
    source_document: Mapped[Document] = relationship(foreign_keys=[source_document_id])


class Exhibit(Base):
    """One line of a case's exhibit list: which document goes where in the packet, under which letter/number."""

    __tablename__ = "exhibits"
    __table_args__ = (
        UniqueConstraint("case_id", "position", name="uq_exhibit_position"),
        UniqueConstraint("case_id", "label", name="uq_exhibit_label"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based order in the packet
    section: Mapped[str] = mapped_column(String(20))  # client | country
    label: Mapped[str] = mapped_column(String(8))  # A, B, ... or 1, 2, ...
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    title: Mapped[str] = mapped_column(String(300))
    doc_date: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str] = mapped_column(String(8), default="en")  # ISO 639-1 of the document's pages
    # The advocate pinned the label (`label: C!` in the plan): it is kept when other exhibits move.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    document: Mapped[Document] = relationship()


class RecordRequest(Base):
    """A request for records (or a letter of support) sent to a provider; its id is the reference code printed
    on the letter and its return cover sheet. Lifecycle and rules: tasks/requests/lifecycle.py."""

    __tablename__ = "record_requests"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "RQ-7KX4M2PA"
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    record_type: Mapped[str] = mapped_column(String(40))  # key in config/record_types.toml
    provider_key: Mapped[str] = mapped_column(String(60))  # key in config/providers.toml
    provider_name: Mapped[str] = mapped_column(String(200))
    provider_email: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10))  # email | mail | fax | portal
    language: Mapped[str] = mapped_column(String(8))  # en | es
    records_description: Mapped[str] = mapped_column(Text, default="")
    advocate: Mapped[str] = mapped_column(String(40))  # people key in config/practice.toml
    status: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    sent_on: Mapped[date | None] = mapped_column(Date)
    holder_receipt_on: Mapped[date | None] = mapped_column(Date)  # assumed receipt: sent + the channel's mailing days
    routed_on: Mapped[date | None] = mapped_column(Date)  # FOIA: when the right component received it (routing)
    due_on: Mapped[date | None] = mapped_column(Date, index=True)  # the answer (FOIA: the determination) is due
    extended_due_on: Mapped[date | None] = mapped_column(Date)
    expected_on: Mapped[date | None] = mapped_column(Date)  # when the records are expected (FOIA: delivery estimate)
    # Whose records, when not the client's (a child): the name, and the signer's relationship to that person.
    subject_name: Mapped[str | None] = mapped_column(String(200))
    subject_relationship: Mapped[str | None] = mapped_column(String(60))
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)  # 0 = no follow-up sent yet
    letter_document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    authorization_document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    # A document of the case enclosed with the letter (the hearing notice of a USCIS Track 3 request).
    enclosed_document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id", cascade="all, delete-orphan"
    )


class RequestEvent(Base):
    """The history of a request: status changes, notes, follow-ups, received files, e-mails sent."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("record_requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # status | note | follow-up | received | sent-mail
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))

    request: Mapped[RecordRequest] = relationship(back_populates="events")


class OutboundMail(Base):
    """The idempotency ledger of every e-mail sent: one row per ``dedupe_key``, so a re-run never sends twice."""

    __tablename__ = "outbound_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # "request:RQ-..:initial", ...
    request_id: Mapped[str | None] = mapped_column(ForeignKey("record_requests.id"), index=True)
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated addresses
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | sent | failed | rejected
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(100))  # the error's type name only
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)


class InboxItem(Base):
    """A file that arrived for a case (inbox folder, S3 prefix, `request receive`), and where it went: linked to
    a request (matched) or waiting in the case's inbox for a person to assign. Also the poller's ledger:
    one row per (source, source_ref, sha256), so a file is processed once."""

    __tablename__ = "inbox_items"
    __table_args__ = (UniqueConstraint("source", "source_ref", "sha256", name="uq_inbox_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # folder | s3 | cli
    source_ref: Mapped[str] = mapped_column(String(500))  # path under the inbox folder, or S3 key
    sha256: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    request_id: Mapped[str | None] = mapped_column(ForeignKey("record_requests.id"))
    matched_by: Mapped[str | None] = mapped_column(String(12))  # filename | subject | text | qr | manual
    status: Mapped[str] = mapped_column(String(12))  # linked | unassigned | quarantined | dismissed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)


class ScheduledRun(Base):
    """The last outcome of each scheduled job (the overdue check, the inbox poll), so a failure is seen in
    `casefile request list` and `case show` whoever looks, and reported by e-mail once per run of failures.
    Ids, times and the error's type only (never its message: it may name a file)."""

    __tablename__ = "scheduled_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)  # the flow's name: chase-overdue | poll-inbox
    outcome: Mapped[str] = mapped_column(String(12))  # running | ok | failed
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))  # Prefect's id of the last run
    error_type: Mapped[str | None] = mapped_column(String(100))  # of the last failure, e.g. MailTransientError
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)  # the first failure of the current series
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed runs in a row
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    alerted_at: Mapped[datetime | None] = mapped_column(DateTime)  # when this series of failures was e-mailed


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[str | None] = mapped_column(String(16), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON; ids, counts, hashes only


# Country-conditions library (tasks/conditions) ----------------------------------------------------------------
# The organisation's library, shared across cases: public reports and their text. No client data in these tables;
# a case's bundle refers to the library by ids and hashes only.
class ConditionSource(Base):
    """One edition of a country-conditions report, taken in once (by SHA-256) and never edited afterwards: a new
    edition is a new source in the same series."""

    __tablename__ = "condition_sources"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "S-7KX4M2PA"
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the original as added
    original_key: Mapped[str] = mapped_column(String(300))
    original_name: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # pdf, jpeg, png, tiff, heic, html
    normalised_key: Mapped[str] = mapped_column(String(300))  # the PDF read (for html: the archived PDF)
    normalised_sha256: Mapped[str] = mapped_column(String(64))
    searchable_key: Mapped[str | None] = mapped_column(String(300))
    searchable_sha256: Mapped[str | None] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    ocr_status: Mapped[str] = mapped_column(String(20), default="pending")
    country: Mapped[str] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    publisher: Mapped[str] = mapped_column(String(200))
    series: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(500))
    edition: Mapped[str] = mapped_column(String(40))
    published_on: Mapped[date] = mapped_column(Date)
    url: Mapped[str | None] = mapped_column(String(2000))
    accessed_on: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(8))  # ISO 639-1
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime)

    pages: Mapped[list[ConditionPage]] = relationship(
        back_populates="source", order_by="ConditionPage.number", cascade="all, delete-orphan"
    )


class ConditionPage(Base):
    """A page of a library source: size, text (text layer or OCR), language and word boxes."""

    __tablename__ = "condition_pages"

    source_id: Mapped[str] = mapped_column(ForeignKey("condition_sources.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1-based
    width_pt: Mapped[float]
    height_pt: Mapped[float]
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str | None] = mapped_column(Text)
    text_source: Mapped[str | None] = mapped_column(String(20))  # text-layer | ocr | blank | skipped | failed
    ocr_confidence: Mapped[float | None]
    language: Mapped[str | None] = mapped_column(String(8))
    words_json: Mapped[str | None] = mapped_column(Text)  # [[text, conf, x0, y0, x1, y1], ...] in points

    source: Mapped[ConditionSource] = relationship(back_populates="pages")


class ConditionTranslation(Base):
    """An English translation of a foreign-language library source (all of it, or some of its pages), with what
    its translator's certificate says. The organisation's, like the source: any case's bundle can use it."""

    __tablename__ = "condition_translations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "CT-7KX4M2PA"
    source_id: Mapped[str] = mapped_column(ForeignKey("condition_sources.id"), index=True)
    first_page: Mapped[int] = mapped_column(Integer)  # pages of the source translated (1-based, inclusive)
    last_page: Mapped[int] = mapped_column(Integer)
    source_language: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))  # of the translation as added
    original_key: Mapped[str] = mapped_column(String(300))
    normalised_key: Mapped[str] = mapped_column(String(300))  # the PDF placed in packets
    normalised_sha256: Mapped[str] = mapped_column(String(64))
    page_count: Mapped[int] = mapped_column(Integer)
    translator_name: Mapped[str] = mapped_column(String(200))
    translator_address: Mapped[str] = mapped_column(Text, default="")
    translator_phone: Mapped[str] = mapped_column(String(60), default="")
    translator_email: Mapped[str] = mapped_column(String(200), default="")
    certified_on: Mapped[date] = mapped_column(Date)
    signature: Mapped[str | None] = mapped_column(String(20))  # "electronic": /s/ Name; None: signed by hand
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ConditionBundle(Base):
    """A case's rendered country-conditions bundle (its files and manifest are in the object store, frozen). The
    active bundle of a case goes into its packets as numbered exhibits."""

    __tablename__ = "condition_bundles"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "CB-...": a hash of everything rendered
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    country: Mapped[str] = mapped_column(String(2))
    manifest_key: Mapped[str] = mapped_column(String(300))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    exhibits: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    selected_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # last time it was made the active one


class StaffUser(Base):
    """A person who signs in to the staff web page (tasks/staff): a role and an argon2 hash, never a password."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # as typed at sign-in, lower case
    role: Mapped[str] = mapped_column(String(12))  # staff | advocate | admin
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_signin_at: Mapped[datetime | None] = mapped_column(DateTime)


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored here."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)  # absolute end; idle end is last_seen_at + idle time
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)  # signed out, disabled, password reset

    user: Mapped[StaffUser] = relationship()


class SigninFailure(Base):
    """A failed sign-in, for the rate limit (per user name and per client address, within a window)."""

    __tablename__ = "staff_signin_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    name_key: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the name typed (it may be anything)
    address: Mapped[str] = mapped_column(String(64), index=True)


class StaffJob(Base):
    """A flow run started from the staff page (a packet build or an upload's ingest) and its state, so the page can
    show it until it finishes. Ids and counts only."""

    __tablename__ = "staff_jobs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "J-..."
    kind: Mapped[str] = mapped_column(String(12))  # build | ingest
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    state: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled | running | completed | failed
    runner: Mapped[str] = mapped_column(String(12))  # deployment | thread
    flow_run_id: Mapped[str | None] = mapped_column(String(40))
    batch_id: Mapped[str | None] = mapped_column(String(16))
    profile: Mapped[str | None] = mapped_column(String(40))
    build_id: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)  # a typed error's message (never client data)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


def audit(
    session: Session,
    *,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    case_id: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            actor=actor,
            case_id=case_id,
            entity=entity,
            entity_id=entity_id,
            action=action,
            detail=json.dumps(detail, sort_keys=True, default=str),
        )
    )


def current_actor() -> str:
    import getpass
    import os

    return os.environ.get("CASEFILE_ACTOR") or getpass.getuser()


# Engine and migrations ---------------------------------------------------------------------------
def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Any number that no other program on the practice's database server uses as an advisory lock: "CFMG".
_MIGRATION_LOCK = 0x43464D47


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A server: connections idle for hours (a worker between runs) may have been closed by the server or a
    # firewall; ping before use rather than fail the first statement of a run.
    return create_engine(url, future=True, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        except Exception:
            return None


def migrate(engine: Engine) -> None:
    """Bring the database to the head revision with Alembic (importing Alembic only when needed)."""
    if _current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Held until this transaction ends: a second machine waits here, then finds the schema at head.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


# SQLite's primary result codes that say the disk (or another writer), not the data, is the problem.
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_NOMEM = 7
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_CAUSES = {
    _SQLITE_BUSY: "another process keeps it busy",
    _SQLITE_LOCKED: "another process keeps it busy",
    _SQLITE_NOMEM: "the machine is out of memory",
    _SQLITE_READONLY: "it cannot be written (a read-only disk or file)",
    _SQLITE_IOERR: "the disk reported an input/output error",
    _SQLITE_FULL: "the disk is full",
    _SQLITE_CANTOPEN: "it cannot be opened (a missing or read-only folder)",
}


def _unavailable(exc: Exception, engine: Engine) -> Exception | None:
    """The retryable error for a catalog the machine cannot use right now, or None for any other database error."""
    from .errors import WorkspaceError

    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    if engine.dialect.name != "sqlite" or not isinstance(code, int) or (code & 0xFF) not in _SQLITE_CAUSES:
        return None
    where = engine.url.database or "the catalog"
    return WorkspaceError(
        f"The catalog database {where} cannot be used: {_SQLITE_CAUSES[code & 0xFF]}. Free disk space or fix the "
        "disk, then run the same command again: what was done before is kept, and what failed was not recorded."
    )


class Catalog:
    """Owns the engine and hands out sessions. One per process."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on error. A database the disk cannot hold or
        write (full, read-only, I/O error, locked past the busy timeout) raises ``WorkspaceError`` (exit 75)."""
        from sqlalchemy.exc import OperationalError

        try:
            with self._sessions() as session, session.begin():
                yield session
        except OperationalError as exc:
            error = _unavailable(exc, self.engine)
            if error is None:
                raise
            raise error from exc

    @contextmanager
    def scratch_session(self) -> Iterator[Session]:
        """A unit of work that is always rolled back: a dry run goes through the code that writes, and keeps
        nothing."""
        with self._sessions() as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()

    @staticmethod
    def get_case(session: Session, case_id: str) -> Case:
        """The case with this id (any letter case), or CaseNotFound."""
        from .errors import CaseNotFound

        case = session.get(Case, case_id.upper())
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def get_document(self, session: Session, doc_id: str) -> Document:
        from .errors import DocumentNotFound

        doc = session.get(Document, doc_id.upper())
        if doc is None:
            raise DocumentNotFound(doc_id)
        return doc

    def get_batch(self, session: Session, batch_id: str) -> IntakeBatch:
        from .errors import NotFoundError

        batch = session.get(IntakeBatch, batch_id)
        if batch is None:
            raise NotFoundError(f"No intake batch with id {batch_id!r}.")
        return batch

    def list_cases(self, session: Session) -> list[Case]:
        return list(session.scalars(select(Case).order_by(Case.created_at)))

    def dispose(self) -> None:
        self.engine.dispose()

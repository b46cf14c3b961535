"""One hierarchy of errors, each with a message a non-engineer can act on and a CLI exit code.

Messages name the file (by the name the user gave it) and the remedy. They never contain client
names, A-numbers or document text: only ids, counts, hashes and the user's own file path. Error
messages are shown on the user's terminal; logs only get ``log_summary()`` (type and code).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    INPUT_REJECTED = 4  # some files were quarantined
    INTEGRITY = 5  # a stored object does not match its recorded hash
    STORAGE = 6
    CONFIG = 7
    TRANSIENT = 75  # EX_TEMPFAIL: try again later


class CasefileError(Exception):
    """Base class. ``str(err)`` is the user-facing message."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def log_summary(self) -> str:
        """What may go to a log: the type only, never the message (it may hold a file name)."""
        return f"{type(self).__name__}(exit={int(self.exit_code)})"


class ConfigError(CasefileError):
    exit_code = ExitCode.CONFIG


class ValidationError(CasefileError):
    """A value typed by the user is not valid (A-number, date, hearing type...)."""

    exit_code = ExitCode.USAGE


class NotFoundError(CasefileError):
    exit_code = ExitCode.NOT_FOUND


class CaseNotFound(NotFoundError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"No case with id {case_id!r}. Run `casefile case list` to see the case ids.")
        self.case_id = case_id


class DocumentNotFound(NotFoundError):
    def __init__(self, doc_id: str) -> None:
        super().__init__(f"No document with id {doc_id!r}. Run `casefile docs CASE-ID` to see document ids.")
        self.doc_id = doc_id


class IntegrityError(CasefileError):
    """Stored bytes do not match the SHA-256 recorded when they were ingested."""

    exit_code = ExitCode.INTEGRITY


class StorageError(CasefileError):
    exit_code = ExitCode.STORAGE


class TransientStorageError(StorageError):
    """Worth retrying: network trouble, throttling, a 5xx from the object store."""

    exit_code = ExitCode.TRANSIENT


class ToolError(CasefileError):
    """An external program (tesseract, qpdf) failed or is missing."""


class ToolTimeout(ToolError):
    exit_code = ExitCode.TRANSIENT


class WorkspaceError(CasefileError):
    """The machine, not the file: the work folder (or the disk under the home) is full, over quota, read-only or
    failing. Nothing is recorded about the file being processed; the same command, run again once the cause is
    fixed, takes it in. Messages name the folder and the cause, never a client's file."""

    exit_code = ExitCode.TRANSIENT


class IntakeRejected(CasefileError):
    """A file that cannot be taken in. It is quarantined with ``reason``; the rest of the batch goes on."""

    exit_code = ExitCode.INPUT_REJECTED


class QuarantineReason(StrEnum):
    UNSUPPORTED_TYPE = "unsupported-type"
    EXTENSION_MISMATCH = "extension-mismatch"
    CORRUPT = "corrupt"
    TRUNCATED = "truncated"
    ENCRYPTED = "encrypted"
    TOO_LARGE = "too-large"
    TOO_MANY_PAGES = "too-many-pages"
    TOO_MANY_PIXELS = "too-many-pixels"
    EMPTY = "empty"
    UNREADABLE = "unreadable"
    TOO_COMPLEX = "too-complex"  # a parser's safety limit: nesting, object counts, loops in the structure
    DECOMPRESSION_BOMB = "decompression-bomb"  # compressed data that expands far beyond any real document
    UNSUPPORTED_ENCODING = "unsupported-encoding"  # a compression or encryption method nothing here decodes
    SYMLINK = "symlink"  # a symbolic link given or found, without --follow-symlinks


_REMEDIES: dict[QuarantineReason, str] = {
    QuarantineReason.UNSUPPORTED_TYPE: "Convert it to PDF, JPEG, PNG or TIFF and add it again.",
    QuarantineReason.EXTENSION_MISMATCH: "Its content does not match its file name; rename it and add it again.",
    QuarantineReason.CORRUPT: "The file is damaged. Ask the sender for a new copy, or re-scan the paper.",
    QuarantineReason.TRUNCATED: "The file is cut off (an incomplete download or copy). Get a complete copy.",
    QuarantineReason.ENCRYPTED: (
        "The PDF is password-protected. Ask the sender for an unprotected copy, or remove the password "
        "(qpdf --decrypt --password=PASSWORD in.pdf out.pdf) and add the result."
    ),
    QuarantineReason.TOO_LARGE: "It is over the size limit (setting max_file_bytes). Split it, or raise the limit.",
    QuarantineReason.TOO_MANY_PAGES: "The PDF has more pages than allowed (setting max_pages). Split it first.",
    QuarantineReason.TOO_MANY_PIXELS: (
        "The image is larger than allowed (setting max_image_pixels); it may be a decompression bomb. "
        "Re-save it at a normal resolution."
    ),
    QuarantineReason.EMPTY: "The file is empty. Get a complete copy.",
    QuarantineReason.UNREADABLE: "The file could not be read from disk. Check that it exists and is readable.",
    QuarantineReason.TOO_COMPLEX: (
        "Its structure goes past the safety limits of the PDF reader (nesting, loops or object counts no real "
        "document needs); it may be hostile. Open it and print it to a new PDF (or scan the paper), and add that."
    ),
    QuarantineReason.DECOMPRESSION_BOMB: (
        "A compressed part of it expands to far more data than any real document holds (a decompression bomb). "
        "Do not open it; ask the sender for a new copy, or scan the paper."
    ),
    QuarantineReason.UNSUPPORTED_ENCODING: (
        "It uses a compression or encryption method that cannot be decoded here. Open it and print it to a new "
        "PDF (or ask the sender for a standard PDF), and add that; if a decoder was missing from this machine, "
        "install it (./bootstrap.sh setup) and add the same file again: its quarantine is lifted."
    ),
    QuarantineReason.SYMLINK: (
        "It is a symbolic link: casefile copies only the files you name, not what a link points to. Add the "
        "file it points to, or run the same `casefile add` with --follow-symlinks."
    ),
}


def remedy_for(reason: QuarantineReason) -> str:
    return _REMEDIES[reason]


class QuarantinedFile(IntakeRejected):
    def __init__(self, reason: QuarantineReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail + '. ' if detail else ''}{remedy_for(reason)}")


class ToolMissing(ToolError):
    """An external program, or a data file it needs (a Tesseract language pack), is not installed."""

    exit_code = ExitCode.CONFIG


class PacketCheckError(ValidationError):
    """A file given to the pre-filing check (`casefile packet check`) cannot be read as a PDF at all: missing,
    corrupt, truncated or not a PDF. Names the file, never its content. Problems found inside a readable PDF
    are findings in the check's report, not errors."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(
            f"{file} cannot be checked: {problem}. Check that it is the complete PDF (download or copy it again), "
            "or rebuild the packet."
        )
        self.file = file
        self.problem = problem


class PacketInputError(ValidationError):
    """A page of an exhibit's PDF cannot be placed into a packet (no usable page box, an invalid rotation,
    unreadable content). Names the document (as the caller identifies it) and the 1-based page number, never
    the page's content."""

    def __init__(self, source: str, page: int, problem: str) -> None:
        super().__init__(
            f"Page {page} of {source} cannot be placed in the packet: {problem}. Re-save the document as a new PDF "
            "(open it and print it to PDF, or scan the paper again), add it again and use the new document in the "
            "exhibit list."
        )
        self.source = source
        self.page = page
        self.problem = problem


# Search ----------------------------------------------------------------------------------------------------
# Messages never repeat the query: it may hold a client's name. Positions are 1-based character numbers.
SEARCH_SYNTAX_HELP = (
    'Write the words to find (pages with all of them), "words in quotes" for an exact phrase, amenaz* for words '
    "that start with amenaz, OR between alternatives (muerte OR violencia), and -word to leave out pages with "
    'that word. Quote OR, AND or NOT ("OR") to search for the word itself.'
)


class QuerySyntaxError(ValidationError):
    """A search query as typed cannot be understood; the message says what to fix and how to write one."""

    def __init__(self, problem: str, position: int | None = None) -> None:
        super().__init__(f"Cannot search for that: {problem}. {SEARCH_SYNTAX_HELP}")
        self.problem = problem
        self.position = position


class QueryTooBroad(ValidationError):
    """A search ran past its time limit (e.g. a short prefix across every case)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The search was stopped after {seconds:g} seconds because it matches too much. Add words, search "
            "for a phrase in quotes, use a longer prefix, or search one case (--case CASE-ID)."
        )


class SearchIndexError(CasefileError):
    """The search index cannot be used: damaged, built by another version, or not a search index at all."""

    def __init__(self, path: object, *, outdated: bool = False, foreign: bool = False) -> None:
        if foreign:
            message = (
                f"{path} is not a casefile search index, so it was left untouched. Check the index path in the "
                "settings."
            )
        elif outdated:
            message = (
                f"The search index at {path} was built by another version of casefile. Run `casefile reindex`: "
                "it is rebuilt from the text stored in the catalog and nothing is lost."
            )
        else:
            message = (
                f"The search index at {path} cannot be read or written (damaged, or a disk or permission "
                "problem). Run `casefile reindex`: it is rebuilt from the text stored in the catalog and nothing "
                "is lost."
            )
        super().__init__(message)
        self.path = path


class SearchIndexBusy(SearchIndexError):
    """Another process holds the index's write lock longer than the busy timeout (usually a rebuild)."""

    exit_code = ExitCode.TRANSIENT

    def __init__(self, path: object) -> None:
        CasefileError.__init__(
            self, f"The search index at {path} is busy (probably being rebuilt). Try again in a few minutes."
        )
        self.path = path


# E-mail ----------------------------------------------------------------------------------------------------
# Messages name the SMTP server and the remedy; never a message's body, subject or a client's details.
class MailError(CasefileError):
    """An e-mail could not be sent."""


class MailTransientError(MailError):
    """Worth retrying later: the SMTP server is unreachable, timed out, or answered 4xx (try again later)."""

    exit_code = ExitCode.TRANSIENT


class MailRejected(MailError):
    """The SMTP server refused the message for good (5xx), usually a recipient address. Never retried as it is:
    fix the address (providers file, practice file) and the next run sends it."""

    def __init__(self, message: str, refused: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.refused = refused


class MailConfigError(ConfigError):
    """The mail settings do not work: authentication refused, TLS not offered, no sender address."""


# Record requests -------------------------------------------------------------------------------------------
class RequestNotFound(NotFoundError):
    def __init__(self, ref: str) -> None:
        super().__init__(
            f"No record request with reference {ref!r}. Run `casefile request list` to see the references."
        )
        self.ref = ref


class InvalidTransition(ValidationError):
    """A status change the request lifecycle does not allow (no "received" before "sent")."""

    def __init__(self, request_id: str, from_status: str, to_status: str, allowed: tuple[str, ...]) -> None:
        can = ", ".join(allowed) if allowed else "nothing (it is final)"
        super().__init__(
            f"Record request {request_id} is {from_status!r}; it cannot become {to_status!r}. From {from_status!r} "
            f"it can become: {can}."
        )
        self.request_id = request_id
        self.from_status = from_status
        self.to_status = to_status
        self.allowed = allowed


# Country conditions ----------------------------------------------------------------------------------------------
# The library holds public reports, never client data; messages name source ids, files as the user typed them and
# line numbers of the selection file.
class SourceNotFound(NotFoundError):
    def __init__(self, source_id: str) -> None:
        super().__init__(
            f"No country-conditions source with id {source_id!r}. Run `casefile conditions list` to see the ids."
        )
        self.source_id = source_id


class SelectionInvalid(ValidationError):
    """A country-conditions selection file with problems; ``problems`` has one line per problem, each naming its
    line in the file. Nothing was rendered."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"The selection {path} has {len(problems)} problem(s); nothing was rendered. Fix them and run "
            f"`casefile conditions bundle` again:\n{listing}"
        )


class LibraryMetadataInvalid(ValidationError):
    """What was typed (or written in a folder's metadata CSV) about a source is not valid; nothing was added."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{where}: {len(problems)} problem(s); nothing was added to the library:\n{listing}")


class BundleNotFound(NotFoundError):
    def __init__(self, case_id: str, bundle_id: str | None = None) -> None:
        what = f"bundle {bundle_id}" if bundle_id else "country-conditions bundle"
        super().__init__(
            f"Case {case_id} has no {what}. Run `casefile conditions propose {case_id} ...`, edit the selection, "
            f"then `casefile conditions bundle {case_id} selection.yaml`."
        )


# A practice's deployment (tasks/deploy) ----------------------------------------------------------------------------
class MigrationError(CasefileError):
    """`casefile migrate` cannot start or did not verify; the old home is untouched and the command can be run
    again (it resumes)."""


class DeploymentDown(CasefileError):
    """`casefile deploy check` found a part of the deployment that does not answer."""

    exit_code = ExitCode.TRANSIENT

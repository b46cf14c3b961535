"""How Prefect treats our typed errors: which failures a task retries (only transient ones: the object store or a
tool timing out, the mail server down or answering 4xx; never a bad input, a refused address or a bug), and how a
failed run is logged (a typed error is one line, its type and exit code, never a traceback: its message, which says
what to do, is printed once by the command and kept in the run's state)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import State

from ..tasks.core.errors import CasefileError, MailTransientError, ToolTimeout, TransientStorageError

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientStorageError, ToolTimeout, TimeoutError)


def _raised(state: State[Any], kinds: tuple[type[BaseException], ...]) -> bool:
    try:
        state.result()
    except kinds:
        return True
    except BaseException:
        return False
    return False


def retry_if_transient(_task: Any, _task_run: Any, state: State[Any]) -> bool:
    """Retry S3 5xx/throttling/timeouts; never a bad input or a bug."""
    return _raised(state, TRANSIENT_ERRORS)


def retry_if_mail_transient(_task: Any, _task_run: Any, state: State[Any]) -> bool:
    """Retry an SMTP server that is down, slow or says 4xx; never a refused address, a bad template or a bug."""
    return _raised(state, (MailTransientError,))


# Logging ---------------------------------------------------------------------------------------------------------
# Prefect's engine logs a failed task or flow run at ERROR with the traceback (to the terminal and to the API). For
# our typed errors that is noise: one line per failure, naming the error type and exit code, is enough.
ENGINE_LOGGERS = (
    "prefect.task_runs",
    "prefect.flow_runs",
    "prefect.engine",
    "prefect.flow_engine",
    "prefect.task_engine",
)


def typed_error(exc: BaseException | None) -> CasefileError | None:
    """The typed error an exception is, or was raised from (a Prefect wrapper's cause), if any."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, CasefileError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


class TypedErrorsWithoutTraceback(logging.Filter):
    """Turns an engine record that carries a typed error into one line without its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            err = typed_error(record.exc_info[1])
            if err is not None:
                record.msg, record.args = "Run failed: %s (its message is in the run's state)", (err.log_summary(),)
                record.exc_info, record.exc_text = None, None
        return True


_FILTER = TypedErrorsWithoutTraceback()


def quiet_typed_errors() -> None:
    """Install the filter on Prefect's engine loggers (idempotent; survives Prefect's logging configuration, which
    replaces handlers but not logger filters)."""
    for name in ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# Every flow module imports this one: their runs, wherever they run (a command, `casefile serve`), log this way.
quiet_typed_errors()

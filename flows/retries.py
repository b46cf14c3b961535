"""Which failures a Prefect task retries: only transient ones (the object store or a tool timing out, the mail
server down or answering 4xx). A bad input, a refused address or a bug is never retried."""

from __future__ import annotations

from typing import Any

from prefect import State

from ..tasks.core.errors import MailTransientError, ToolTimeout, TransientStorageError

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

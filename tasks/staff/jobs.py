"""Flow runs started from the staff page (a packet build, an upload's ingest), recorded so the page shows their state
until they finish. The runs themselves are started by the web adapter (flows/web/runs.py), through the deployment
when `casefile serve` runs and in a worker thread otherwise; this module only keeps their record. Ids only."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..core.catalog import StaffJob, StaffUser, new_id, utcnow
from ..core.errors import NotFoundError
from .audit import safe_id

if TYPE_CHECKING:
    from ..core.runtime import Runtime


class JobKind(StrEnum):
    BUILD = "build"
    INGEST = "ingest"


class JobState(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED)


class JobNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("No such job. Open the case again to see its builds and documents.")


def create_job(
    rt: Runtime,
    kind: JobKind,
    case_id: str,
    user_id: int,
    runner: str,
    *,
    batch_id: str | None = None,
    profile: str | None = None,
) -> str:
    with rt.catalog.session() as session:
        job = StaffJob(
            id=new_id("J", 8),
            kind=kind.value,
            case_id=case_id,
            user_id=user_id,
            runner=runner,
            batch_id=batch_id,
            profile=profile,
        )
        session.add(job)
        return job.id


def update_job(
    rt: Runtime,
    job_id: str,
    state: JobState,
    *,
    flow_run_id: str | None = None,
    build_id: str | None = None,
    error: str | None = None,
) -> None:
    with rt.catalog.session() as session:
        job = session.get(StaffJob, job_id)
        if job is None or JobState(job.state).final:
            return
        job.state = state.value
        if flow_run_id is not None:
            job.flow_run_id = flow_run_id
        if build_id is not None:
            job.build_id = build_id
        if error is not None:
            job.error = error
        if state.final:
            job.finished_at = utcnow()


def job_row(job: StaffJob, user_name: str | None = None) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "case_id": job.case_id,
        "state": job.state,
        "final": JobState(job.state).final,
        "runner": job.runner,
        "flow_run_id": job.flow_run_id,
        "batch_id": job.batch_id,
        "profile": job.profile,
        "build_id": job.build_id,
        "error": job.error,
        "started_by": user_name,
        "created_at": job.created_at.isoformat(timespec="seconds"),
        "finished_at": job.finished_at.isoformat(timespec="seconds") if job.finished_at else None,
    }


def get_job(rt: Runtime, case_id: str, job_id: str) -> dict[str, Any]:
    """The job of this case; ``JobNotFound`` for another case's job or an id that is not one."""
    case, jid = safe_id(case_id), safe_id(job_id)
    with rt.catalog.session() as session:
        job = session.get(StaffJob, jid) if jid else None
        if job is None or job.case_id != case:
            raise JobNotFound()
        user = session.get(StaffUser, job.user_id)
        return job_row(job, user.name if user else None)


def case_jobs(rt: Runtime, case_id: str, limit: int = 10) -> list[dict[str, Any]]:
    with rt.catalog.session() as session:
        rows = session.execute(
            select(StaffJob, StaffUser.name)
            .join(StaffUser, StaffUser.id == StaffJob.user_id)
            .where(StaffJob.case_id == case_id)
            .order_by(StaffJob.created_at.desc())
            .limit(limit)
        ).all()
        return [job_row(job, name) for job, name in rows]


def unfinished_jobs(rt: Runtime, runner: str | None = None) -> list[dict[str, Any]]:
    query = select(StaffJob).where(StaffJob.state.in_([JobState.SCHEDULED.value, JobState.RUNNING.value]))
    if runner is not None:
        query = query.where(StaffJob.runner == runner)
    with rt.catalog.session() as session:
        return [job_row(j) for j in session.scalars(query)]


def running_job(rt: Runtime, case_id: str, kind: JobKind) -> str | None:
    """An unfinished job of this kind for this case (a second click shows it instead of starting another)."""
    with rt.catalog.session() as session:
        return session.scalar(
            select(StaffJob.id).where(
                StaffJob.case_id == case_id,
                StaffJob.kind == kind.value,
                StaffJob.state.in_([JobState.SCHEDULED.value, JobState.RUNNING.value]),
            )
        )

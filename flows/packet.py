"""The `build-packet` flow: one exhibit packet of one case, built, checked and stored.

Parameters are the case id, the profile and options (people keys, the filing channel, the DHS office or USCIS
address served, forms and fee: no client data); the result is ids, counts, sizes and hashes.
Deployable, so an advocate can trigger it from the Prefect UI (`casefile serve` serves it without a schedule).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from ..tasks.core.errors import CasefileError, ExitCode
from ..tasks.core.runtime import get_runtime
from ..tasks.packets.build import BuildOptions, build_packet
from ..tasks.packets.manifest import BuildResult, artifact_markdown
from .retries import retry_if_transient


@task(
    name="build-packet",
    task_run_name="packet-{case_id}",
    retries=2,  # RETRIES
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_if_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def build_task(case_id: str, options: BuildOptions) -> BuildResult | CasefileError:
    """The build; a typed error is returned, not raised (a transient one is raised while retries remain), so that
    a refused or failed build ends as one Failed state with its type, never a logged traceback."""
    from prefect.runtime import task_run

    try:
        return build_packet(get_runtime(), case_id, options)
    except CasefileError as err:
        if err.exit_code == ExitCode.TRANSIENT and task_run.run_count <= RETRIES:
            raise
        return err


RETRIES = 2


@flow(name="build-packet", persist_result=False)
def build_packet_flow(
    case_id: str,
    profile: str = "eoir",
    allow_missing_translations: bool = False,
    service_date: str | None = None,
    signer: str | None = None,
    filer: str | None = None,
    channel: str | None = None,
    service_office: str | None = None,
    service_address: list[str] | None = None,
    recipient: list[str] | None = None,
    forms: list[str] | None = None,
    g28: bool = False,
    fee: str | None = None,
    fictional_practice: bool = False,
) -> dict[str, Any]:
    """Build the exhibit packet of ``case_id`` for ``profile`` (eoir, uscis, or a practice's own profile).
    ``filer``/``signer``: people keys of config/practice.toml (default: the case's advocate); ``channel``: the way
    of filing (its size limit); ``service_office``/``service_address``: the DHS office served, instead of the
    profile's; ``recipient``, ``forms``, ``g28``, ``fee``: a USCIS cover letter's address and enclosures;
    ``fictional_practice``: the demo's fictional practice, on purpose (otherwise its sample values are refused)."""
    options = BuildOptions(
        profile=profile,
        allow_missing_translations=allow_missing_translations,
        service_date=date.fromisoformat(service_date) if service_date else None,
        signer=signer,
        filer=filer,
        channel=channel,
        service_office=service_office,
        service_address=tuple(service_address or ()),
        recipient=tuple(recipient or ()),
        forms=tuple(forms or ()),
        g28=g28,
        fee=fee,
        fictional_practice=fictional_practice,
    )
    result = build_task(case_id.upper(), options)
    if isinstance(result, CasefileError):
        # The state's message is the error's type and exit code (never its text: it may name a file); the error
        # itself is the state's data, which the command line raises to print once.
        return Failed(message=result.log_summary(), data=result)  # type: ignore[return-value]
    create_markdown_artifact(
        key=f"packet-{result.build_id.lower()}",
        markdown=artifact_markdown(result),
        description=f"Exhibit packet {result.build_id} of case {result.case_id}",
    )
    get_run_logger().info(
        "packet %s of case %s: %d pages, %d part(s)%s",
        result.build_id,
        result.case_id,
        result.pages,
        len(result.parts),
        " (already built)" if result.reused else "",
    )
    return result.summary()

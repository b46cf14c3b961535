"""The `conditions-bundle` flow: a case's country-conditions bundle, proposed (or read from a stored selection),
rendered and stored, ready to go into the case's packets.

Parameters are ids, codes and hashes (case id, country code, topic keys, the page budget, a date, the SHA-256 of a
selection stored by `casefile conditions bundle`); without a selection the flow bundles the proposal as proposed
(stale sources left out: keeping one needs a reason, which only a person can give). Its artifact is the source
table: library metadata, pages and hashes, never client data. Results are not persisted; only transient errors are
retried. Deployed by `casefile serve` as `conditions-bundle/on-request` (run it from the Prefect UI).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from ..tasks.conditions.bundle import BundleResult, render_bundle, source_table_markdown
from ..tasks.conditions.config import load_topics
from ..tasks.conditions.propose import dump_selection, propose
from ..tasks.conditions.selection import load_selection_text, parse_selection, store_selection
from ..tasks.core.runtime import get_runtime
from .retries import retry_if_transient

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


@task(name="propose-passages", task_run_name="propose-{case_id}-{country}", persist_result=False, cache_policy=NO_CACHE)
def propose_task(case_id: str, country: str, topics: list[str], max_pages: int, since: str | None) -> str:
    """Rank the library's pages for the case; store the proposal as a selection file; return its SHA-256."""
    rt = get_runtime()
    proposal = propose(
        rt, case_id, country, topics, max_pages=max_pages, since=date.fromisoformat(since) if since else None
    )
    return store_selection(rt, proposal.case_id, dump_selection(proposal, rt.config(load_topics)))


@task(
    name="render-bundle",
    task_run_name="bundle-{case_id}",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_if_transient,
    persist_result=False,
    cache_policy=NO_CACHE,
)
def bundle_task(case_id: str, selection: str) -> BundleResult:
    rt = get_runtime()
    text = load_selection_text(rt, case_id, selection)
    checked = parse_selection(rt, text, f"selection {selection[:12]}", case_id)
    return render_bundle(rt, checked)


@flow(name="conditions-bundle", persist_result=False)
def conditions_bundle_flow(
    case_id: str,
    country: str,
    topics: list[str],
    max_pages: int = 150,
    since: str | None = None,
    selection: str | None = None,
) -> dict[str, Any]:
    """Bundle the country conditions of ``case_id`` for ``country`` and ``topics`` (the proposal as proposed, or the
    stored selection whose SHA-256 is ``selection``)."""
    case_id = case_id.upper()
    if selection is None:
        selection = propose_task(case_id, country.upper(), list(topics), max_pages, since)
    result = bundle_task(case_id, selection)
    create_markdown_artifact(
        key=f"conditions-{result.bundle_id.lower()}",
        markdown=source_table_markdown(result),
        description=f"Country-conditions bundle {result.bundle_id} of case {result.case_id}",
    )
    get_run_logger().info(
        "bundle %s of case %s: %d source(s), %d page(s)%s",
        result.bundle_id,
        result.case_id,
        len(result.exhibits),
        result.pages,
        " (already rendered)" if result.reused else "",
    )
    return {**result.summary(), "selection": selection}


def deployment() -> RunnerDeployment:
    """The deployment `casefile serve` serves (flows/deployments.py): no schedule, run from the Prefect UI."""
    from prefect.deployments.runner import RunnerDeployment
    from prefect.types.entrypoint import EntrypointType

    built = conditions_bundle_flow.to_deployment(
        name="on-request",
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Propose, render and store a case's country-conditions bundle (case id, country, topics).",
        tags=["casefile", "conditions"],
    )
    assert isinstance(built, RunnerDeployment)
    return built

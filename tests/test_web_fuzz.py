"""A schema-driven fuzzer (schemathesis) over every route of the staff page, from its OpenAPI schema, bounded in time.

The page has no JSON API: its routes answer HTML forms. They are fuzzed all the same, signed out and signed in (as an
admin, with a valid CSRF token put into every generated form so the handlers themselves are reached): no input may
cause a server error, signed out nothing but the sign-in page and the health check may answer 200, and no answer may
carry a PDF to someone who is not signed in."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from staffpage import add_users, put_build, sign_in

from casefile.tasks.demo.scenario import fictional_case

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

pytestmark = pytest.mark.slow
BUDGET_SECONDS = 120  # the whole fuzz run, all routes together
DERANDOMIZE = True  # the same examples every run (set False locally to explore further)
OPEN_ROUTES = {"/signin", "/healthz"}
SKIP_SIGNED_IN = {"/signout"}  # it would end the fuzzer's own session


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import os

    from casefile.flows.web.app import create_app
    from casefile.tasks.cases.case import open_case
    from casefile.tasks.core.runtime import get_runtime, reset_runtimes
    from casefile.tasks.core.settings import load_settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    home = tmp_path_factory.mktemp("fuzz") / "home"
    previous = os.environ.get("CASEFILE_HOME")
    os.environ["CASEFILE_HOME"] = str(home)
    reset_runtimes()
    rt: Runtime = get_runtime(load_settings(home=home))
    add_users(rt)
    case = open_case(rt, fictional_case())["id"]
    put_build(rt, case, "P-FUZZBUILD0", [b"%PDF-1.7 fuzz " * 100])
    app = create_app(runtime=rt)
    with TestClient(app) as client:
        token = sign_in(client, "ana.admin")
        yield {
            "app": app,
            "cookie": client.cookies["cf_session"],
            "csrf": token,
            "started": time.monotonic(),
            "case": case,
        }
    reset_runtimes()
    if previous is None:
        os.environ.pop("CASEFILE_HOME", None)
    else:
        os.environ["CASEFILE_HOME"] = previous


def test_no_input_breaks_the_page_or_opens_it(fuzz_site: dict[str, Any]) -> None:
    from hypothesis import given

    schema = schemathesis.openapi.from_dict(fuzz_site["app"].openapi())
    schema.app = fuzz_site["app"]
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    tried: dict[str, int] = {}

    for operation in operations:
        if time.monotonic() - fuzz_site["started"] > BUDGET_SECONDS:
            break

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE)
        def check(case: Any) -> None:
            _check(case, fuzz_site)
            tried[case.operation.label] = tried.get(case.operation.label, 0) + 1

        check()
    assert len(tried) >= len(operations) * 0.8, tried  # the budget reached (nearly) every route


def _check(case: Any, site: dict[str, Any]) -> None:
    path = case.operation.path
    signed_out = case.call(allow_redirects=False)
    assert signed_out.status_code < 500, (case.method, path, signed_out.text[-500:])
    assert not signed_out.content.startswith(b"%PDF")
    if path not in OPEN_ROUTES:
        assert signed_out.status_code in (303, 400, 401, 403, 404, 405, 413, 422), (case.method, path)
    if path in SKIP_SIGNED_IN:
        return
    if isinstance(case.body, dict):
        case.body["csrf"] = site["csrf"]
    signed_in = case.call(cookies={"cf_session": site["cookie"]}, allow_redirects=False)
    assert signed_in.status_code < 500, (case.method, path, signed_in.text[-500:])

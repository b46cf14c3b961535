"""Record requests: config, due-date rules, the lifecycle, at-risk flags, overdue marking, matching and the inbox."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from casefile.tasks.cases.rules import read_filing_rules
from casefile.tasks.core.calendar import add_business_days, is_business_day
from casefile.tasks.core.catalog import AuditEvent, Document, InboxItem, RecordRequest, RequestEvent
from casefile.tasks.core.errors import ConfigError, InvalidTransition, RequestNotFound, ValidationError
from casefile.tasks.core.practice import load_practice
from casefile.tasks.core.settings import PACKAGE_ROOT, load_settings
from casefile.tasks.requests.config import Channel, DayUnit, RequestConfig, load_request_config, read_request_config
from casefile.tasks.requests.dates import due_date, extended_due_date
from casefile.tasks.requests.lifecycle import (
    create_request,
    due_escalation_steps,
    find_references,
    get_request,
    list_requests,
    mark_overdue,
    match_document,
    normalise_reference,
    transition,
)
from casefile.tasks.requests.status import TRANSITIONS, Status, allowed_next

if TYPE_CHECKING:
    from casefile.tasks.core.runtime import Runtime

CONFIG = PACKAGE_ROOT / "config"


@pytest.fixture(scope="module")
def config() -> RequestConfig:
    practice = load_practice(load_settings(config_dir=CONFIG))
    return read_request_config(CONFIG, practice, read_filing_rules(CONFIG), PACKAGE_ROOT / "templates")


# Config ---------------------------------------------------------------------------------------------------------
def test_config_has_the_required_types_and_defaults(config: RequestConfig) -> None:
    required = {"medical", "school", "court-disposition", "police", "foia-uscis", "foia-ice", "foia-cbp", "foia-eoir",
                "foreign-civil", "support-letter"}  # fmt: skip
    assert required <= set(config.types)
    medical, school, foia = config.types["medical"], config.types["school"], config.types["foia-uscis"]
    assert (medical.unit, medical.days, medical.extension_days) == (DayUnit.CALENDAR, 30, 30)
    assert medical.authorization == "hipaa-authorization"
    assert (school.days, school.extension_days, school.authorization) == (45, 0, "ferpa-consent")
    assert (foia.unit, foia.days, foia.extension_days) == (DayUnit.BUSINESS, 20, 10)
    assert foia.authorization == "foia-identity"
    assert config.types["support-letter"].enclosures == ("support-guide",)
    assert [s.days_after_due for s in medical.escalation] == [0, 10, 20]
    assert medical.escalation[-1].to == "supervisor"
    for provider in config.providers.values():  # fictional data only
        domain = (provider.email or "x@example.org").rpartition("@")[2]
        assert domain.split(".", domain.count(".") - 1)[-1] in ("example.org", "example.com", "example.mx"), domain


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    return target


def test_bad_config_names_file_and_key(tmp_path: Path) -> None:
    cfg = _copy_config(tmp_path)
    path = cfg / "record_types.toml"
    path.write_text(path.read_text().replace('unit = "business", days = 20', 'unit = "weekly", days = 20', 1))
    with pytest.raises(ConfigError) as err:
        load_request_config(load_settings(config_dir=cfg))
    assert "record_types.toml" in err.value.message and "types.foia-uscis.response.unit" in err.value.message

    cfg2 = _copy_config(tmp_path / "b")
    providers = cfg2 / "providers.toml"
    providers.write_text(
        providers.read_text().replace('serves = ["medical", "medical-access"]', 'serves = ["dental"]', 1)
    )
    with pytest.raises(ConfigError) as err2:
        load_request_config(load_settings(config_dir=cfg2))
    assert "providers.toml" in err2.value.message and "providers.metro-general.serves" in err2.value.message


# Dates ----------------------------------------------------------------------------------------------------------
def test_business_days_skip_weekends_and_federal_holidays() -> None:
    assert not is_business_day(date(2026, 11, 26))  # Thanksgiving
    assert not is_business_day(date(2026, 12, 25))  # Christmas
    assert not is_business_day(date(2026, 11, 28))  # Saturday
    assert is_business_day(date(2026, 11, 27))  # the Friday after Thanksgiving is not a federal holiday
    # Wednesday before Thanksgiving + 1 business day -> Friday.
    assert add_business_days(date(2026, 11, 25), 1) == date(2026, 11, 27)
    # Friday + 1 -> Monday.
    assert add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 23)
    # Across Christmas and New Year's Day 2027.
    assert add_business_days(date(2026, 12, 24), 3) == date(2026, 12, 30)
    assert add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_foia_due_dates_and_unusual_circumstances(config: RequestConfig) -> None:
    foia = config.types["foia-ice"]
    # 20 business days from Friday 2026-11-20, skipping Thanksgiving: Monday 2026-12-21.
    due = due_date(foia, date(2026, 11, 20))
    assert due == date(2026, 12, 21)
    # +10 business days, skipping Christmas and New Year's Day: 2027-01-06.
    assert extended_due_date(foia, due) == date(2027, 1, 6)


def test_calendar_day_rules_and_extensions(config: RequestConfig) -> None:
    medical, school = config.types["medical"], config.types["school"]
    # HIPAA: 30 calendar days, not moved off a weekend (2026-11-29 is a Sunday), one 30-day extension.
    assert due_date(medical, date(2026, 10, 30)) == date(2026, 11, 29)
    assert extended_due_date(medical, date(2026, 11, 29)) == date(2026, 12, 29)
    assert due_date(school, date(2026, 11, 1)) == date(2026, 12, 16)
    assert extended_due_date(school, date(2026, 12, 16)) is None
    # Types with roll_forward: a due date on Thanksgiving moves to Friday.
    court = config.types["court-disposition"]
    assert due_date(court, date(2026, 10, 27)) == date(2026, 11, 27)
    assert due_date(court, date(2026, 11, 25)) == date(2026, 12, 28)  # 12-25 + weekend -> Monday 12-28


# Lifecycle ------------------------------------------------------------------------------------------------------
def _new(runtime: Runtime, config: RequestConfig, case_id: str, record_type: str = "medical", **kw: str) -> str:
    provider = kw.pop("provider", "metro-general")
    with runtime.catalog.session() as session:
        req = create_request(
            session, config, case_id=case_id, record_type=record_type, provider_key=provider, actor="tester", **kw
        )
        return req.id


def _move(runtime: Runtime, config: RequestConfig, ref: str, to: Status | str, **kw: object) -> None:
    with runtime.catalog.session() as session:
        transition(
            session, config, get_request(session, ref), to, actor="tester",
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip


def _path_to(status: Status) -> list[Status]:
    """A shortest path of allowed transitions from draft to ``status``."""
    paths = {Status.DRAFT: [Status.DRAFT]}
    frontier = [Status.DRAFT]
    while frontier:
        nxt = []
        for s in frontier:
            for t in sorted(TRANSITIONS[s]):
                if t not in paths:
                    paths[t] = [*paths[s], t]
                    nxt.append(t)
        frontier = nxt
    return paths[status]


def test_every_transition_allowed_or_refused(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    """For every (from, to) pair: allowed ones succeed and leave an event; the others raise InvalidTransition."""
    every = list(Status)
    assert all(s in TRANSITIONS for s in every)
    for source in every:
        ref = _new(runtime, config, case_id)
        for step in _path_to(source)[1:]:
            _move(runtime, config, ref, step, on=date(2026, 11, 2) if step is Status.SENT else None)
        for target in every:
            with runtime.catalog.session() as session:
                req = get_request(session, ref)
                before = len(req.events)
                if target in TRANSITIONS[source]:
                    transition(session, config, req, target, actor="tester")
                    assert req.status == target.value and len(req.events) > before
                    session.rollback()  # try the next target from the same state
                else:
                    with pytest.raises(InvalidTransition) as err:
                        transition(session, config, req, target, actor="tester")
                    assert err.value.from_status == source.value and err.value.to_status == target.value
                    assert ref in err.value.message
                    assert req.status == source.value
    # "received" before "sent" is refused, naming what is allowed.
    ref = _new(runtime, config, case_id)
    with pytest.raises(InvalidTransition) as refused:
        _move(runtime, config, ref, Status.RECEIVED)
    assert refused.value.allowed == ("cancelled", "sent")
    assert refused.value.exit_code == ValidationError.exit_code


def test_sent_records_dates_events_and_audit(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    ref = _new(runtime, config, case_id, "foia-ice", provider="ice-foia")
    _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 20))
    with runtime.catalog.session() as session:
        req = get_request(session, ref)
        assert (req.sent_on, req.due_on) == (date(2026, 11, 20), date(2026, 12, 21))
        kinds = [(e.kind, e.from_status, e.to_status, e.actor) for e in req.events]
        assert kinds[:2] == [("status", None, "draft", "tester"), ("status", "draft", "sent", "tester")]
        audits = session.query(AuditEvent).filter(AuditEvent.entity == "request", AuditEvent.entity_id == ref).all()
        assert [a.action for a in audits][:2] == ["status:draft", "status:sent"]
    _move(runtime, config, ref, Status.EXTENDED)
    with runtime.catalog.session() as session:
        assert get_request(session, ref).extended_due_on == date(2027, 1, 6)
    with pytest.raises(InvalidTransition):  # extended -> extended is not a transition
        _move(runtime, config, ref, Status.EXTENDED)


def test_extension_refused_when_the_rule_allows_none(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    ref = _new(runtime, config, case_id, "school", provider="ps-example")
    _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 2))
    with pytest.raises(ValidationError):
        _move(runtime, config, ref, Status.EXTENDED)
    _move(runtime, config, ref, Status.EXTENDED, new_due=date(2027, 1, 15))  # the school's own date
    with runtime.catalog.session() as session:
        assert get_request(session, ref).extended_due_on == date(2027, 1, 15)


def test_at_risk_flagged_the_day_it_is_sent(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    """The fictional case's hearing is 2027-03-04 (individual): filing deadline 30 days before, 2027-02-02."""
    early = _new(runtime, config, case_id, "medical")
    _move(runtime, config, early, Status.SENT, on=date(2026, 11, 2))  # due 2026-12-02: in time
    late = _new(runtime, config, case_id, "foreign-civil", provider="registro-civil-oaxaca")
    _move(runtime, config, late, Status.SENT, on=date(2026, 12, 21))  # due 60 days later: 2027-02-19, too late
    extended = _new(runtime, config, case_id, "medical")
    _move(runtime, config, extended, Status.SENT, on=date(2026, 12, 15))  # due 2027-01-14: in time...
    with runtime.catalog.session() as session:
        assert not get_request(session, early).at_risk
        assert get_request(session, late).at_risk
        assert any(e.kind == "note" and "At risk" in (e.note or "") for e in get_request(session, late).events)
        assert not get_request(session, extended).at_risk
    _move(runtime, config, extended, Status.EXTENDED)  # ...until extended to 2027-02-13
    with runtime.catalog.session() as session:
        assert get_request(session, extended).at_risk
        flagged = {r.id for r in list_requests(session, case_id=case_id, at_risk=True)}
    assert flagged == {late, extended}


def test_mark_overdue_and_escalation_steps(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    ref = _new(runtime, config, case_id, "medical")
    _move(runtime, config, ref, Status.SENT, on=date(2026, 10, 1))  # due 2026-10-31
    draft = _new(runtime, config, case_id, "medical")
    with runtime.catalog.session() as session:
        assert mark_overdue(session, config, date(2026, 10, 31), actor="run") == []  # due today
        assert mark_overdue(session, config, date(2026, 11, 1), actor="run") == [ref]
        assert mark_overdue(session, config, date(2026, 11, 1), actor="run") == []  # idempotent
        req = get_request(session, ref)
        assert req.status == "overdue"
        assert [s.step for s in due_escalation_steps(config, req, date(2026, 11, 1))] == [1]
        assert [s.step for s in due_escalation_steps(config, req, date(2026, 11, 20))] == [1, 2, 3]
        assert {r.id for r in list_requests(session, overdue=True)} == {ref}
        assert draft not in {r.id for r in list_requests(session, due_within=365)}


# Matching -------------------------------------------------------------------------------------------------------
def test_find_references_tolerates_what_ocr_and_people_do() -> None:
    assert find_references("Re: RQ-7KX4M2PA and rq-7kx4m2pa, RQ 9YXARW77; RQ–2MQH6P3V") == [
        "RQ-7KX4M2PA",
        "RQ-9YXARW77",
        "RQ-2MQH6P3V",
    ]
    assert find_references("XRQ-7KX4M2PA RQ-7KX4M2PAB RQ-0KX4M2PA") == []  # glued, too long, 0 is not in the code
    assert normalise_reference("7kx4m2pa") == "RQ-7KX4M2PA"


def _doc(runtime: Runtime, case_id: str, name: str, sha: str, text: str = "") -> str:
    from casefile.tasks.core.catalog import Page

    with runtime.catalog.session() as session:
        doc = Document(
            id=f"D-T{sha[:7].upper()}", case_id=case_id, sha256=sha * 8, original_name=name, size_bytes=1,
            kind="pdf", status="ready", page_count=1,
        )  # fmt: skip
        doc.pages = [Page(number=1, width_pt=612, height_pt=792, text=text)]
        session.add(doc)
        return doc.id


def test_match_by_file_name_subject_and_text_else_inbox(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    from casefile.tasks.requests.lifecycle import route_document

    ref = _new(runtime, config, case_id)
    _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 2))
    by_name = _doc(runtime, case_id, f"scan_{ref.lower()}.pdf", "a1b2c3d4")
    by_subject = _doc(runtime, case_id, "records.pdf", "b1b2c3d4")
    by_text = _doc(runtime, case_id, "scan0001.pdf", "c1b2c3d4", text=f"RETURN COVER SHEET\n{ref}\nDue by")
    nothing = _doc(runtime, case_id, "scan0002.pdf", "d1b2c3d4", text="Discharge summary, no code")
    unknown = _doc(runtime, case_id, "RQ-ZZZZZZZZ.pdf", "e1b2c3d4")
    with runtime.catalog.session() as session:
        assert match_document(session, session.get(Document, by_name)).matched_by == "filename"  # type: ignore[arg-type]
        m = match_document(session, session.get(Document, by_subject), subject=f"Re: {ref} records")  # type: ignore[arg-type]
        assert (m.request_id, m.matched_by) == (ref, "subject")
        assert match_document(session, session.get(Document, by_text)).matched_by == "text"  # type: ignore[arg-type]
        assert match_document(session, session.get(Document, nothing)).request_id is None  # type: ignore[arg-type]
        m2 = match_document(session, session.get(Document, unknown))  # type: ignore[arg-type]
        assert m2.request_id is None and m2.candidates == ("RQ-ZZZZZZZZ",)
        args = {"actor": "inbox", "source": "folder"}
        linked = route_document(session, config, session.get(Document, by_text), source_ref="a", **args)  # type: ignore[arg-type]
        waiting = route_document(session, config, session.get(Document, nothing), source_ref="b", **args)  # type: ignore[arg-type]
        again = route_document(session, config, session.get(Document, by_text), source_ref="a", **args)  # type: ignore[arg-type]
        assert (linked.status, linked.request_id, linked.matched_by) == ("linked", ref, "text")
        assert again.id == linked.id  # processed once
        assert (waiting.status, waiting.request_id) == ("unassigned", None)
        req = get_request(session, ref)
        assert req.status == "partially-received"  # an automatic match: a person confirms it is complete
        received = [e.document_id for e in req.events if e.kind == "received"]
        assert received == [by_text]
        assert session.query(InboxItem).filter_by(status="unassigned").count() == 1


def test_unknown_reference_is_a_typed_error(runtime: Runtime) -> None:
    with runtime.catalog.session() as session, pytest.raises(RequestNotFound):
        get_request(session, "RQ-22222222")


def test_request_checks_provider_channel_and_advocate(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    with pytest.raises(ValidationError):
        _new(runtime, config, case_id, "medical", provider="no-such-provider")
    with pytest.raises(ValidationError):
        _new(runtime, config, case_id, "dental")
    with pytest.raises(ValidationError):
        _new(runtime, config, case_id, "medical", advocate="nobody")
    ref = _new(runtime, config, case_id, "medical", provider="clinica-esperanza", channel="mail")
    ref2 = _new(runtime, config, case_id, "foia-uscis", provider="uscis-foia")
    with runtime.catalog.session() as session:
        req = session.get(RecordRequest, ref)
        assert req is not None and (req.language, req.channel, req.advocate) == ("es", "mail", "avega")
        assert session.get(RecordRequest, ref2).language == "en"  # type: ignore[union-attr]
        assert session.query(RequestEvent).filter_by(request_id=ref).count() == 1
    assert date.today() - timedelta(days=1) < date.today()


# Tracking (the stage functions behind `request show / list / update`) --------------------------------------------
def test_update_show_and_list_by_reference(runtime: Runtime, case_id: str, config: RequestConfig) -> None:
    from casefile.tasks.core.errors import CaseNotFound
    from casefile.tasks.requests.tracking import list_request_rows, show_request, update_request

    ref = _new(runtime, config, case_id, "school", provider="ps-example")
    with pytest.raises(ValidationError):  # nothing to change
        update_request(runtime, ref, actor="tester")
    with pytest.raises(ValidationError):  # a new due date goes with "extended" only
        update_request(runtime, ref, note="called", due=date(2027, 1, 15), actor="tester")
    with pytest.raises(InvalidTransition):
        update_request(runtime, ref, status="received", actor="tester")
    update_request(runtime, ref, status="sent", actor="tester")
    noted = update_request(runtime, ref.lower(), note="Called the registrar", actor="tester")
    assert noted["status"] == "sent" and noted["events"][-1]["note"] == "Called the registrar"
    later = date.today() + timedelta(days=120)  # sent today: due in 45 days; the school's own new date
    extended = update_request(runtime, ref, status=Status.EXTENDED, due=later, actor="tester")
    assert extended["extended_due_on"] == later.isoformat() and extended["events"][-1]["to"] == "extended"

    shown = show_request(runtime, ref)
    assert [e["kind"] for e in shown["events"]] == ["status", "status", "note", "status"]
    assert shown["allowed_next"] == list(allowed_next("extended"))
    assert [r["id"] for r in list_request_rows(runtime, case_id=case_id.lower())] == [ref]
    assert list_request_rows(runtime, case_id=case_id, overdue=True) == []
    assert [r["id"] for r in list_request_rows(runtime, overdue=True, today=later + timedelta(days=1))] == [ref]
    with pytest.raises(CaseNotFound):
        list_request_rows(runtime, case_id="C-NOSUCH1")
    with pytest.raises(RequestNotFound):
        show_request(runtime, "RQ-22222222")


# Receipt, determination and delivery, risk -----------------------------------------------------------------------
def test_due_dates_count_from_the_day_the_holder_receives_the_request(
    runtime: Runtime, case_id: str, config: RequestConfig
) -> None:
    """A mailed letter arrives five calendar days after it is sent ([receipt] mail = 5); e-mail the same day."""
    from casefile.tasks.requests.lifecycle import request_summary

    assert config.receipt_days == {
        Channel.MAIL: 5, Channel.EMAIL: 0, Channel.FAX: 0, Channel.PORTAL: 0,
    }  # fmt: skip
    mailed = _new(runtime, config, case_id, "medical", channel="mail")
    emailed = _new(runtime, config, case_id, "medical")
    for ref in (mailed, emailed):
        _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 20))
    with runtime.catalog.session() as session:
        by_mail, by_email = (
            request_summary(get_request(session, mailed), config),
            request_summary(get_request(session, emailed), config),
        )
    assert (by_mail["sent_on"], by_mail["assumed_receipt_on"], by_mail["due_on"]) == (
        "2026-11-20", "2026-11-25", "2026-12-25",
    )  # fmt: skip
    assert (by_email["sent_on"], by_email["assumed_receipt_on"], by_email["due_on"]) == (
        "2026-11-20", "2026-11-20", "2026-12-20",
    )  # fmt: skip
    assert by_mail["due_basis"] == "practice" and by_mail["due_kind"] == "records"


def test_foia_determination_is_not_delivery_and_risk_follows_the_expected_delivery(
    runtime: Runtime, case_id: str, config: RequestConfig
) -> None:
    """A USCIS A-file request e-mailed 2026-11-02: the determination is due in 20 business days (2026-12-02, after
    Veterans Day and Thanksgiving), in time for the 2027-02-02 filing deadline; the A-file itself is expected 120
    days after receipt (2027-03-02), too late: the request is at risk because of the delivery, not the
    determination."""
    from casefile.tasks.requests.lifecycle import request_summary

    foia = config.types["foia-uscis"]
    assert (foia.basis.value, foia.kind.value, foia.expected, foia.routing_days, foia.extension_days) == (
        "law", "determination", (DayUnit.CALENDAR, 120), 10, 10,
    )  # fmt: skip
    ref = _new(runtime, config, case_id, "foia-uscis", provider="uscis-foia", channel="email")
    _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 2))
    with runtime.catalog.session() as session:
        row = request_summary(get_request(session, ref), config)
    assert (row["due_on"], row["due_kind"], row["expected_on"]) == ("2026-12-02", "determination", "2027-03-02")
    assert row["risk"] == "at-risk" and "expected 2027-03-02" in row["risk_reason"]
    assert row["at_risk"]
    # Unusual circumstances: +10 business days on the determination; delivery stays the later estimate.
    _move(runtime, config, ref, Status.EXTENDED)
    with runtime.catalog.session() as session:
        row = request_summary(get_request(session, ref), config)
    assert (row["extended_due_on"], row["expected_on"]) == ("2026-12-16", "2027-03-02")


def test_a_foia_request_routed_to_the_right_component_gets_at_most_ten_more_business_days(
    runtime: Runtime, case_id: str, config: RequestConfig
) -> None:
    from casefile.tasks.requests.tracking import update_request

    ref = _new(runtime, config, case_id, "foia-ice", provider="ice-foia")
    _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 2))  # received the same day (e-mail)
    assert update_request(runtime, ref, note="sent", actor="tester")["due_on"] == "2026-12-02"
    # Reached the right component three days later: the 20 business days start then.
    routed = update_request(runtime, ref, routed_on=date(2026, 11, 5), actor="tester")
    assert (routed["routed_on"], routed["due_on"]) == ("2026-11-05", "2026-12-07")
    # Routed a month later: the count starts no later than 10 business days after the first receipt (2026-11-17,
    # Veterans Day skipped), so the determination is due 2026-12-16, not in January.
    late = update_request(runtime, ref, routed_on=date(2026, 12, 2), actor="tester")
    assert late["due_on"] == "2026-12-16"
    assert "routed to the right component on 2026-12-02" in late["events"][-1]["note"]
    medical = _new(runtime, config, case_id, "medical")
    _move(runtime, config, medical, Status.SENT, on=date(2026, 11, 2))
    with pytest.raises(ValidationError):  # only FOIA has a routing allowance
        update_request(runtime, medical, routed_on=date(2026, 11, 5), actor="tester")
    with pytest.raises(ValidationError):  # not before it was received
        update_request(runtime, ref, routed_on=date(2026, 10, 30), actor="tester")


def test_requests_of_a_detained_case_without_a_court_date_are_of_unknown_risk_never_safe(
    runtime: Runtime, config: RequestConfig
) -> None:
    from casefile.tasks.cases.case import CaseChanges, create_case, show_case, update_case
    from casefile.tasks.demo.scenario import fictional_case
    from casefile.tasks.requests.chase import build_digest
    from casefile.tasks.requests.lifecycle import request_summary

    with runtime.catalog.session() as session:
        detained = create_case(session, fictional_case(detained=True)).id
    assert show_case(runtime, detained)["filing_deadline_shown"] == "filing date not set: ask the court"
    ref = _new(runtime, config, detained, "medical")
    _move(runtime, config, ref, Status.SENT, on=date(2026, 11, 2))  # due 2026-12-02: early, but against what?
    with runtime.catalog.session() as session:
        req = get_request(session, ref)
        row = request_summary(req, config)
        assert (row["risk"], row["at_risk"]) == ("unknown", True)
        assert "filing date not set: ask the court" in row["risk_reason"]
        assert any("Risk unknown" in (e.note or "") for e in req.events)
        assert [r.id for r in list_requests(session, at_risk=True, config=config)] == [ref]
    digest = build_digest(runtime, config, "avega", date(2026, 11, 10))
    assert digest.unknown_risk == [ref] and digest.at_risk == [] and digest.message is not None
    assert "Risk unknown: filing date not set: ask the court (1)" in digest.message.text
    # The court sets a date: the case shows it and the request is judged against it.
    shown = update_case(runtime, detained, CaseChanges(filing_deadline=date(2027, 1, 15)))
    assert (shown["filing_deadline"], shown["records_needed_by"]) == ("2027-01-15", "2027-01-07")
    with runtime.catalog.session() as session:
        req = get_request(session, ref)
        assert request_summary(req, config)["risk"] == "safe" and not req.at_risk
    # ... and a date that leaves less than the margin makes it at risk.
    update_case(runtime, detained, CaseChanges(filing_deadline=date(2026, 12, 4)))
    with runtime.catalog.session() as session:
        req = get_request(session, ref)
        assert request_summary(req, config)["risk"] == "at-risk" and req.at_risk

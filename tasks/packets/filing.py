"""Who files, who signs, whom the filing is served on and where it goes: the parties of a packet, checked before a
build renders anything.

- ``filer``: the person named on the cover page (their EOIR ID, name and role from config/practice.toml), chosen per
  build, by default the case's advocate; ``signer``: who signs the certificate of service (default: the filer).
- ``signed_as``: how a person signs a certificate: "/s/ Name" (an electronic signature), their signature image, or
  not at all (by hand after printing, which the filing profile must allow: ``Signatures``).
- ``service``: the DHS office the certificate of service names; the profile's placeholder office is refused.
- ``uscis_fields``: the USCIS cover letter's recipient (required), the client's role in the filing (from the case),
  the receipt number, forms enclosed, G-28 and fee.

Errors name people keys, exhibit labels and ids only, never a client's name.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError, ValidationError
from ..core.practice import FILING_ROLES, DhsOffice, Person, Placeholder, Practice
from .profile import PROFILES_DIR, FilingProfile, Service

if TYPE_CHECKING:
    from ..core.catalog import Case

CERTIFICATE_OF_SERVICE = "packet/certificate_of_service.html.j2"
USCIS_COVER_LETTER = "packet/uscis_cover_letter.html.j2"
ELECTRONIC = "electronic"
# The signer's role word on a USCIS cover letter, by role in practice.toml: "Attorney for the Petitioner".
USCIS_ROLE_WORDS = {"attorney": "Attorney", "accredited-representative": "Accredited Representative"}


# Errors ------------------------------------------------------------------------------------------------------------
class ServiceOfficePlaceholder(ConfigError):
    """The certificate of service would name the profile's sample DHS office."""

    def __init__(self, profile: str, court: str = "COURT") -> None:
        super().__init__(
            f"The certificate of service would name the placeholder DHS office of the {profile} profile; the packet "
            "was not built. Set the real ICE Office of the Principal Legal Advisor (OPLA) office for the case's court "
            f'once: `casefile practice dhs-office "{court}" --office "..." --address "line; line"`; or give them for '
            'this build with --service-office "..." --service-address "line; line" (or in [service] office and '
            f"address_lines of {PROFILES_DIR}/{profile}.toml in your practice's copy of the config folder: setting "
            "config_dir)."
        )


class FictionalPractice(ConfigError):
    """The packet would print the practice's fictional or placeholder values (the packaged sample's, EXAMPLE EOIR
    IDs, example.org addresses). Names those values (the practice's, never a client's) and the commands that set
    them."""

    def __init__(self, placeholders: Sequence[Placeholder], practice: Practice) -> None:
        self.placeholders = list(placeholders)
        listing = "\n".join(f"  {p.what} is {p.value!r}: set it with `{p.command}`" for p in placeholders)
        where = (
            f"No practice is set up in this home ({PRACTICE_FILE_HINT}): the packaged fictional sample would be "
            "printed."
            if practice.sample
            else f"The practice file {practice.path} still has fictional or placeholder values."
        )
        super().__init__(
            f"{where} The packet was not built:\n{listing}\n`casefile practice init` sets the practice's details at "
            "once; `casefile practice show` shows them."
        )


PRACTICE_FILE_HINT = "$CASEFILE_HOME/practice.toml does not exist"


def refuse_placeholders(practice: Practice, people: Sequence[str], court: str) -> None:
    """Refuse a filing that would print a fictional or placeholder value of the practice (its letterhead, the filer
    and signer, the DHS office of ``court``)."""
    found = practice.placeholders(people=dict.fromkeys(people), court=court)
    if found:
        raise FictionalPractice(found, practice)


class UnsignedCertificates(ValidationError):
    """Certificates that would go out unsigned while the profile wants them signed before the build."""

    def __init__(self, profile: str, unsigned: Sequence[str]) -> None:
        self.unsigned = list(unsigned)
        listing = "\n".join(f"  {u}" for u in unsigned)
        super().__init__(
            f"{len(unsigned)} certificate(s) of the packet would be unsigned; the packet was not built:\n{listing}\n"
            f'Sign them electronically: a person signs "/s/ Name" once `casefile practice person KEY --signature '
            f"electronic` (or --signature-image) says so; a translator, with `casefile translation add ... "
            f"--signed-electronically` once they signed. Or, for a paper filing signed by hand after printing, set "
            f"[signatures] wet_after_printing = true in {PROFILES_DIR}/{profile}.toml."
        )


class MissingRecipient(ValidationError):
    def __init__(self, profile: str) -> None:
        super().__init__(
            f"The USCIS cover letter needs the address it goes to (the lockbox or field office); the {profile} "
            f'profile has none. Give it with --recipient "USCIS; Attn: ...; P.O. Box ...; City, ST ZIP", or put it '
            f"in [recipient] address_lines of {PROFILES_DIR}/{profile}.toml."
        )


class MissingUscisRole(ValidationError):
    def __init__(self, case_id: str) -> None:
        super().__init__(
            f'The USCIS cover letter signs as "Attorney for the Applicant/Petitioner/Beneficiary" from the case; '
            f"case {case_id} has no USCIS role. Set it with `casefile case set {case_id} --uscis-role "
            "applicant|petitioner|beneficiary`."
        )


# Filer and signer --------------------------------------------------------------------------------------------------
def filer_of(practice: Practice, case: Case, key: str | None) -> Person:
    """The person filing: ``key`` (``--filer``), else the case's advocate when they may file, else the practice's
    first attorney or accredited representative. A paralegal named with ``--filer`` is refused."""
    if key is None and case.advocate in practice.people and practice.people[case.advocate].role in FILING_ROLES:
        key = case.advocate
    return practice.filer(key)


def signed_as(person: Person) -> dict[str, str] | None:
    """How ``person`` signs a certificate (the templates' ``signed``), None when they sign by hand after printing."""
    if person.signature_image is not None:
        kind = "png" if person.signature_image.suffix.lower() == ".png" else "jpeg"
        data = base64.b64encode(person.signature_image.read_bytes()).decode("ascii")
        return {"image": f"data:image/{kind};base64,{data}", "text": ""}
    if person.signature == ELECTRONIC:
        return {"image": "", "text": f"/s/ {person.name}"}
    return None


def translator_signed(name: str, signature: str | None) -> dict[str, str] | None:
    return {"image": "", "text": f"/s/ {name}"} if signature == ELECTRONIC else None


@dataclass
class SignaturePlan:
    """Which certificates of a packet are signed, and which go out to be signed by hand after printing."""

    signed: list[str] = field(default_factory=list)  # "certificate of service (avega, electronic)", ...
    to_sign: list[str] = field(default_factory=list)  # what a person signs by hand after printing

    def require(self, profile: FilingProfile) -> None:
        """Refuse unsigned certificates unless the profile allows signing by hand after printing."""
        if self.to_sign and not profile.signatures.wet_after_printing:
            raise UnsignedCertificates(profile.name, self.to_sign)

    def as_dict(self) -> dict[str, Any]:
        return {"signed": list(self.signed), "to_sign_after_printing": list(self.to_sign)}


# Service and USCIS -------------------------------------------------------------------------------------------------
def service_for(
    profile: FilingProfile,
    office: str | None,
    address: Sequence[str],
    practices: DhsOffice | None = None,
    court: str = "COURT",
) -> Service:
    """The office the certificate of service names: the build's (``--service-office``), else the practice's office
    for the case's court (`casefile practice dhs-office`), else the profile's; the placeholder is refused when the
    packet has a certificate of service."""
    if not office and practices is not None:
        office, address = practices.office, address or practices.address_lines
    service = Service(
        office=office or profile.service.office,
        address_lines=tuple(address) or profile.service.address_lines,
        default_method=profile.service.default_method,
    )
    if CERTIFICATE_OF_SERVICE in profile.templates.pages and service.placeholder:
        raise ServiceOfficePlaceholder(profile.name, court)
    return service


def format_fee(raw: str) -> str:
    """'675', '675.5', '$1,320' -> '$675.00', '$675.50', '$1,320.00'."""
    try:
        amount = Decimal(raw.strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise ValidationError(f"The fee {raw!r} is not an amount; write it like 675 or 1320.00.") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(f"The fee {raw!r} is not an amount in dollars and cents.")
    return f"${amount:,.2f}"


def uscis_fields(
    profile: FilingProfile,
    case: Case,
    filer: Person,
    recipient: Sequence[str],
    forms: Sequence[str],
    g28: bool,
    fee: str | None,
) -> dict[str, Any]:
    """The USCIS cover letter's fields (empty for a profile without one): recipient (required), the client's role
    from the case, the signer's role ("Attorney for the Petitioner"), receipt number, forms, G-28 and fee."""
    if USCIS_COVER_LETTER not in profile.templates.pages:
        return {"party": "", "receipt_number": case.receipt_number or "", "forms": [], "g28": False, "fee": ""}
    address = list(recipient) or list(profile.recipient.address_lines)
    if not address:
        raise MissingRecipient(profile.name)
    if not case.uscis_role:
        raise MissingUscisRole(case.id)
    party = case.uscis_role.capitalize()
    word = USCIS_ROLE_WORDS.get(filer.role)
    uscis_role = f"{word} for the {party}" if word else f"{party}, pro se"
    return {
        "recipient": {"address_lines": address},
        "party": party,
        "uscis_role": uscis_role,
        "receipt_number": case.receipt_number or "",
        "forms": [f.strip().upper().removeprefix("FORM ").strip() for f in forms if f.strip()],
        "g28": g28,
        "fee": format_fee(fee) if fee else "",
    }

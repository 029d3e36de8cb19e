"""Campaign audiences: a saved audience of the campaign's region, one of five kinds, resolved to customer ids
through the owning app's selectors (so the region scope of the reader applies).

- strategy: one segment (or all) of an audience strategy (segments' AudienceDefinition), ref {audience_id, segment}
- value_group / rfm / persona: a segment of the customer profiles, ref {code}
- at_risk: customers whose latest published abandonment score is above a threshold, ref {threshold}
- list: an uploaded customer list, ref {list_id}
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from cartportal.access import ensure_can
from cartportal.audit import actor_label, record
from cartportal.models import Customer, Region
from cartportal.services import DomainError
from interventions.models import CustomerList, CustomerListMember
from predictions import selectors as prediction_selectors
from segments import selectors as segment_selectors

KINDS = {
    "strategy": "Audience strategy segment",
    "value_group": "Value group",
    "rfm": "RFM segment",
    "persona": "Persona",
    "at_risk": "At-risk open carts",
    "list": "Uploaded customer list",
}
DEFAULT_RISK_THRESHOLD = 0.5


def audience_resolve(user, region: Region, kind: str, ref: dict) -> tuple[dict, str]:
    """The checked reference and its label, or a DomainError naming what is wrong (unknown kind, audience,
    segment or list; a threshold outside 0..1)."""
    if kind not in KINDS:
        raise DomainError(f"unknown audience kind {kind!r}; choose one of {', '.join(KINDS)}")
    return _RESOLVERS[kind](user, region, dict(ref or {}))


def _strategy(user, region, ref) -> tuple[dict, str]:
    audience = segment_selectors.audiences(user, region_ids=[region.pk]).filter(pk=_int(ref, "audience_id")).first()
    if audience is None:
        raise DomainError(f"no audience strategy {ref.get('audience_id')} in region {region.code}")
    segment = str(ref.get("segment") or "")
    if segment:
        names = [str(row.get("segment")) for row in (audience.result or {}).get("segments", [])]
        if segment not in names:
            raise DomainError(
                f"{audience.name!r} has no segment {segment!r}; its segments: {', '.join(names) or 'none'}"
            )
    label = f"{audience.name}: {segment}" if segment else audience.name
    return {"audience_id": audience.pk, "segment": segment}, label


def _profile_segment(kind: str):
    def resolve(user, region, ref) -> tuple[dict, str]:
        code = str(ref.get("code") or "")
        known = {
            r["code"]: r["name"] for r in segment_selectors.segment_summary(user, region_ids=[region.pk], kind=kind)
        }
        if code not in known:
            raise DomainError(
                f"no {KINDS[kind].lower()} {code!r} in region {region.code}; built: {', '.join(known) or 'none yet'}"
            )
        return {"code": code}, f"{KINDS[kind]}: {known[code]}"

    return resolve


def _at_risk(user, region, ref) -> tuple[dict, str]:
    try:
        threshold = float(ref.get("threshold", DEFAULT_RISK_THRESHOLD))
    except (TypeError, ValueError):
        raise DomainError("the risk threshold must be a number between 0 and 1") from None
    if not 0 <= threshold < 1:
        raise DomainError("the risk threshold must be at least 0 and below 1")
    return {"threshold": threshold}, f"At-risk open carts (abandonment risk above {threshold:.0%})"


def _list(user, region, ref) -> tuple[dict, str]:
    found = CustomerList.objects.restrict(user).filter(region=region, pk=_int(ref, "list_id")).first()
    if found is None:
        raise DomainError(f"no customer list {ref.get('list_id')} in region {region.code}")
    return {"list_id": found.pk}, f"Customer list: {found.name}"


def _int(ref: dict, key: str) -> int:
    try:
        value = int(ref.get(key))
    except (TypeError, ValueError, OverflowError):
        raise DomainError(f"{key} must be a number") from None
    if not 0 < value < 2**63:
        raise DomainError(f"{key} must be a positive id")
    return value


_RESOLVERS = {
    "strategy": _strategy,
    "value_group": _profile_segment("value_group"),
    "rfm": _profile_segment("rfm"),
    "persona": _profile_segment("persona"),
    "at_risk": _at_risk,
    "list": _list,
}


def audience_customer_ids(user, campaign) -> QuerySet:
    """Customer ids of the campaign's audience in its region, as the user may see them (before eligibility)."""
    return audience_ids(user, campaign.region_id, campaign.audience_kind, campaign.audience_ref or {})


def audience_ids(user, region_id: int, kind: str, ref: dict) -> QuerySet:
    """Customer ids of a saved audience (kind and resolved ref) in one region, as the user may see them; the what-if
    simulator reads a planned campaign's audience through here too."""
    region_ids = [region_id]
    if kind == "strategy":
        members = segment_selectors.audiences(user, region_ids=region_ids).filter(pk=ref.get("audience_id")).first()
        if members is None:
            return Customer.objects.none().values_list("pk", flat=True)
        rows = segment_selectors.audience_members(user, members)
        rows = rows.filter(segment=ref["segment"]) if ref.get("segment") else rows
        return rows.values_list("customer_id", flat=True)
    if kind in ("value_group", "rfm", "persona"):
        rows = segment_selectors.segment_members(user, region_ids=region_ids, kind=kind, code=ref.get("code", ""))
        return rows.values_list("customer_id", flat=True)
    if kind == "at_risk":
        return prediction_selectors.customers_at_risk(user, threshold=ref["threshold"], region_ids=region_ids)
    if kind == "list":
        rows = CustomerListMember.objects.filter(
            customer_list__in=CustomerList.objects.restrict(user).filter(pk=ref.get("list_id"))
        )
        return rows.values_list("customer_id", flat=True)
    return Customer.objects.none().values_list("pk", flat=True)


def customer_lists(user, *, region_ids: list[int] | None = None):
    rows = CustomerList.objects.restrict(user).select_related("region")
    return rows.filter(region_id__in=region_ids) if region_ids else rows


def audience_list_create(*, actor, region: Region, name: str, customer_ids) -> CustomerList:
    """An uploaded customer list as a campaign audience. Every id must be a customer of that region that the actor
    may change; otherwise nothing is saved and the error lists the ids refused."""
    name = (name or "").strip()
    if not name:
        raise DomainError("a customer list needs a name")
    wanted = sorted({int(c) for c in customer_ids})
    if not wanted:
        raise DomainError("a customer list needs at least one customer")
    with transaction.atomic():
        ensure_can(actor, "change", region.pk, what="region")
        found = set(
            Customer.objects.restrict(actor, "change").filter(region=region, pk__in=wanted).values_list("pk", flat=True)
        )
        refused = [c for c in wanted if c not in found]
        if refused:
            raise DomainError(f"not customers of region {region.code}: {', '.join(map(str, refused[:20]))}")
        created = CustomerList.objects.create(region=region, name=name[:200], created_by=actor_label(actor))
        CustomerListMember.objects.bulk_create(
            [CustomerListMember(customer_list=created, customer_id=c) for c in wanted], batch_size=5000
        )
        record(
            actor=actor,
            action="audience.list_create",
            object_type="interventions.customerlist",
            object_id=created.pk,
            region_code=region.code,
            after={"name": created.name, "customers": len(wanted)},
        )
        return created


def parse_audience(text: str) -> tuple[str, dict]:
    """The portal's one-line audience: `value_group:loyal`, `rfm:<code>`, `persona:<code>`,
    `strategy:<id>[:<segment>]`, `at_risk[:<threshold>]` or `list:<id>`; empty for none."""
    text = (text or "").strip()
    if not text:
        return "", {}
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind == "strategy":
        audience_id, _, segment = rest.partition(":")
        return kind, {"audience_id": audience_id.strip(), "segment": segment.strip()}
    if kind == "at_risk":
        return kind, {"threshold": rest.strip() or DEFAULT_RISK_THRESHOLD}
    if kind == "list":
        return kind, {"list_id": rest.strip()}
    if kind in ("value_group", "rfm", "persona"):
        return kind, {"code": rest.strip()}
    raise DomainError(f"unknown audience {text!r}: start with one of {', '.join(k + ':' for k in KINDS)}")


def audience_choices(user, region_ids: list[int] | None) -> list[tuple[str, str]]:
    """(one-line audience, label) for the saved audiences of the regions: what the draft form suggests."""
    choices = [(f"at_risk:{DEFAULT_RISK_THRESHOLD}", KINDS["at_risk"])]
    for kind in ("value_group", "rfm", "persona"):
        for row in segment_selectors.segment_summary(user, region_ids=region_ids, kind=kind):
            choices.append((f"{kind}:{row['code']}", f"{KINDS[kind]}: {row['name']}"))
    for audience in segment_selectors.audiences(user, region_ids=region_ids):
        choices.append((f"strategy:{audience.pk}", f"{audience.region.code} {audience.name}"))
    for found in customer_lists(user, region_ids=region_ids):
        choices.append((f"list:{found.pk}", f"{found.region.code} list: {found.name}"))
    return choices

"""Segment reads. Every selector starts from the user's region scope; pages and the API call the same ones."""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, Count, Sum
from django.db.models.expressions import RawSQL

from cartportal.access import Scope
from segments import snapshots
from segments.models import (
    AudienceDefinition,
    CustomerProfile,
    PersonaRun,
    ProfileSnapshot,
    Segment,
    SegmentSnapshot,
)


def _in(qs, region_ids):
    return qs if region_ids is None else qs.filter(region_id__in=region_ids)


def segment_summary(user, *, region_ids=None, kind: str | None = None) -> list[dict]:
    """Sizes per segment, summed over the user's (optionally narrowed) regions."""
    qs = _in(Segment.objects.restrict(user), region_ids)
    if kind:
        qs = qs.filter(kind=kind)
    rows = qs.values("kind", "code", "name").annotate(
        size=Sum("size"), dormant_size=Sum("dormant_size"), monetary_total=Sum("monetary_total")
    )
    return sorted(rows, key=lambda r: (r["kind"], -r["size"]))


MEMBERSHIP_COLUMNS = {
    "value_group": "value_group",
    "rfm": "rfm_segment",
    "promotion_base": "promotion_base",
    "persona": "persona",
}


ACQUIRED = "COALESCE(c.first_seen, (SELECT min(fo.placed_at) FROM cartportal_order fo WHERE fo.customer_id = c.id))"


def _customer_condition(flt) -> tuple[str, list]:
    """The analysis filter on a customer row `c`: acquired in the period, bought in the category, on the device, in
    the segment (the segment pages count customers, so every filter is read at the customer)."""
    return flt.sql(at=ACQUIRED, customer="c.id", device="c.device")


def _kept_customers(qs, flt):
    """`qs` (rows with a customer_id) narrowed to the customers the analysis filter keeps; unchanged without one.
    The kept customers are chosen once, as an array (`= ANY(ARRAY(...))`, an init plan), not as an IN subquery the
    planner may fold into the outer query: with the statistics of tables that were empty it planned that as nested
    loops re-running the filter for every outer row, and one page took minutes."""
    if flt is None or not flt.active:
        return qs
    chosen, params = _customer_condition(flt)
    column = f"{connection.ops.quote_name(qs.model._meta.db_table)}.{connection.ops.quote_name('customer_id')}"
    kept = RawSQL(
        f"{column} = ANY(ARRAY(SELECT c.id FROM cartportal_customer c WHERE {chosen}))",
        params,
        output_field=BooleanField(),
    )
    return qs.alias(kept_by_filter=kept).filter(kept_by_filter=True)


def segment_summary_filtered(user, *, region_ids=None, flt) -> list[dict]:
    """`segment_summary` counted from the customers' memberships for the customers the analysis filter keeps
    (acquired in the period, bought in the category, on the device, in the segment)."""
    scope, params = Scope.of(user, "view", region_ids).sql("p.region_id")
    chosen, chosen_params = _customer_condition(flt)
    memberships = ", ".join(f"('{kind}', p.{column})" for kind, column in MEMBERSHIP_COLUMNS.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT m.kind, m.code, count(*), count(*) FILTER (WHERE p.dormant), COALESCE(sum(p.monetary), 0)
            FROM {CustomerProfile._meta.db_table} p
            JOIN cartportal_customer c ON c.id = p.customer_id
            CROSS JOIN LATERAL (VALUES {memberships}) AS m(kind, code)
            WHERE {scope} AND m.code <> '' AND {chosen}
            GROUP BY 1, 2""",
            params + chosen_params,
        )
        counted = cursor.fetchall()
    names = dict(
        ((k, c), n) for k, c, n in _in(Segment.objects.restrict(user), region_ids).values_list("kind", "code", "name")
    )
    rows = [
        {"kind": k, "code": c, "name": names.get((k, c), c), "size": n, "dormant_size": d, "monetary_total": m}
        for k, c, n, d, m in counted
    ]
    return sorted(rows, key=lambda r: (r["kind"], -r["size"]))


def segment_members(user, *, region_ids=None, kind: str, code: str, dormant: bool | None = None, flt=None):
    column = {
        "value_group": "value_group",
        "rfm": "rfm_segment",
        "promotion_base": "promotion_base",
        "persona": "persona",
    }.get(kind)
    if column is None:
        return CustomerProfile.objects.none()
    qs = _in(CustomerProfile.objects.restrict(user), region_ids).filter(**{column: code})
    if dormant is not None:
        qs = qs.filter(dormant=dormant)
    qs = _kept_customers(qs, flt)
    return qs.select_related("customer", "region").order_by("-monetary", "customer_id")


def latest_persona_runs(user, *, region_ids=None) -> list[PersonaRun]:
    """The newest persona run of each visible region."""
    runs = (
        _in(PersonaRun.objects.restrict(user), region_ids).select_related("region").order_by("region_id", "-built_at")
    )
    seen, latest = set(), []
    for run in runs:
        if run.region_id not in seen:
            seen.add(run.region_id)
            latest.append(run)
    return latest


def persona_sizes_filtered(user, runs: list[PersonaRun], flt) -> dict[tuple[int, str], int]:
    """{(region id, persona): customers} among the customers the analysis filter keeps, counted from the memberships
    the last rebuild wrote (a persona's means stay those of the whole run)."""
    qs = CustomerProfile.objects.restrict(user).filter(region_id__in=[r.region_id for r in runs]).exclude(persona="")
    counted = _kept_customers(qs, flt).values_list("region_id", "persona").annotate(n=Count("customer_id"))
    return {(region_id, persona): n for region_id, persona, n in counted.order_by()}


def persona_payload(run: PersonaRun) -> dict:
    """What both the page and the API show for a persona run."""
    return {
        "id": run.pk,
        "region": run.region.code,
        "built_at": run.built_at.isoformat(),
        "customers": run.customers,
        "features": run.features,
        "k": run.k,
        "selection": run.selection,
        "stability_ari": run.stability_ari,
        "stability_runs": run.stability_runs,
        "unstable": run.unstable,
        "gmm_agreement_ari": run.gmm_agreement_ari,
        "profiles": run.profiles,
        "note": run.note,
    }


def transition_kinds(user, *, region_ids=None) -> list[tuple[str, str]]:
    """(kind, label) of every segment kind with snapshots in the scope: value group, RFM, persona, audiences."""
    profiles = _in(ProfileSnapshot.objects.restrict(user), region_ids)
    present = {kind for kind, column in snapshots.COLUMNS.items() if profiles.exclude(**{column: ""}).exists()}
    present |= set(_in(SegmentSnapshot.objects.restrict(user), region_ids).values_list("kind", flat=True).distinct())
    kinds = [(snapshots.VALUE_GROUP, "Value group"), (snapshots.RFM, "RFM segment"), (snapshots.PERSONA, "Persona")]
    names = dict(audiences(user, region_ids=region_ids).values_list("pk", "name"))
    kinds += [(snapshots.audience_kind(pk), f"Audience: {name}") for pk, name in sorted(names.items())]
    return [(k, label) for k, label in kinds if k in present or k == snapshots.VALUE_GROUP]


def _snapshot_states(user, region_ids, kind: str, flt):
    """(queryset, column): one kind's snapshot rows for the customers the filter keeps, and the column that holds
    the state (ProfileSnapshot keeps value group, RFM and persona as columns; audiences are SegmentSnapshot rows)."""
    column = snapshots.COLUMNS.get(kind)
    if column is not None:
        qs = _in(ProfileSnapshot.objects.restrict(user), region_ids).exclude(**{column: ""})
        return _kept_customers(qs, flt), column
    qs = _in(SegmentSnapshot.objects.restrict(user), region_ids).filter(kind=kind)
    return _kept_customers(qs, flt), "state"


def transitions(user, *, region_ids=None, month_from=None, month_to=None, kind: str = "value_group", flt=None) -> dict:
    """Customers moving between states from one month's snapshot to the next, for the customers the analysis
    filter keeps (all of them without one)."""
    qs, column = _snapshot_states(user, region_ids, kind, flt)
    months = sorted(set(qs.values_list("month", flat=True).distinct()))
    if len(months) < 2:
        return {"months": months, "from": None, "to": None, "kind": kind, **snapshots.transition_matrix([], kind)}
    month_to = month_to if month_to in months else months[-1]
    earlier = [m for m in months if m < month_to]
    month_from = month_from if month_from in earlier else (earlier[-1] if earlier else months[0])
    before = dict(qs.filter(month=month_from).values_list("customer_id", column))
    after = dict(qs.filter(month=month_to).values_list("customer_id", column))
    absent = snapshots.absent_state(kind)
    pairs: dict[tuple[str, str], int] = {}
    for customer in before.keys() | after.keys():
        key = (before.get(customer, absent), after.get(customer, absent))
        pairs[key] = pairs.get(key, 0) + 1
    matrix = snapshots.transition_matrix([(a, b, n) for (a, b), n in pairs.items()], kind)
    return {"months": months, "from": month_from, "to": month_to, "kind": kind, **matrix}


def audiences(user, *, region_ids=None):
    return _in(AudienceDefinition.objects.restrict(user), region_ids).select_related("region")


def audience_members(user, audience):
    return audience.members.restrict(user).select_related("customer").order_by("segment", "customer_id")


PROFILE_FEATURES = ("recency_days", "frequency", "monetary", "value_group", "rfm_segment", "persona", "promotion_base")


def profile_features(user, customer_ids) -> dict[int, dict]:
    """Per customer id (of the user's regions): the profile fields other apps learn from."""
    rows = CustomerProfile.objects.restrict(user).filter(customer_id__in=list(customer_ids))
    return {
        r["customer_id"]: {k: (float(v) if k == "monetary" else v) for k, v in r.items() if k != "customer_id"}
        for r in rows.values("customer_id", *PROFILE_FEATURES)
    }

"""Segment writes: the set-based rebuild of every customer's segments, snapshots and audience evaluation.

Each service runs in one transaction and writes its audit row inside it; a re-run replaces the rows of the
regions it covers, so a re-delivered task neither duplicates nor half-writes anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from cartportal.audit import record
from cartportal.models import Order, Region
from segments import rfm, snapshots
from segments.value_groups import Thresholds, dormant_sql, thresholds_cte, value_group_case_sql

PROFILE_COLUMNS = (
    "customer_id, region_id, built_at, reference_at, last_purchase_at, recency_days, frequency, monetary, "
    "r_score, f_score, m_score, rfm_segment, value_group, dormant, promotion_base, persona"
)


class SegmentError(Exception):
    """A segment operation that cannot be done as asked (the message says why)."""


@dataclass
class RebuildResult:
    reference_at: dt.datetime | None
    customers: int = 0
    counts: dict = field(default_factory=dict)


def reference_moment() -> dt.datetime | None:
    """Recency is measured from the latest order in the shop (so a historical export is read as of its end)."""
    return Order.objects.order_by("-placed_at").values_list("placed_at", flat=True).first()


def _scope_cte() -> str:
    return """scope AS (
        SELECT id, region_id FROM cartportal_customer
        WHERE erased_at IS NULL AND (%(all_regions)s OR region_id = ANY(%(regions)s::int[]))
    )"""


def _params(region_ids, as_of, thresholds: Thresholds) -> dict:
    return {
        "all_regions": region_ids is None,
        "regions": list(region_ids or []),
        "as_of": as_of,
        **thresholds.params(),
    }


def _profiles_select() -> str:
    promotion = """CASE WHEN b.customer_id IS NOT NULL AND br.customer_id IS NOT NULL THEN 'both'
                        WHEN b.customer_id IS NOT NULL THEN 'transaction_only'
                        WHEN br.customer_id IS NOT NULL THEN 'browsing_only' ELSE 'none' END"""
    return f"""
    WITH {_scope_cte()}, {rfm.buyers_sql()}, {thresholds_cte()},
    browsing AS (
        SELECT customer_id FROM cartportal_session WHERE customer_id IS NOT NULL AND started_at <= %(as_of)s
        UNION SELECT customer_id FROM cartportal_cartevent WHERE customer_id IS NOT NULL AND occurred_at <= %(as_of)s
    )
    SELECT s.id, s.region_id, now(), %(as_of)s::timestamptz, b.last_purchase, b.recency_days,
        coalesce(b.frequency, 0), coalesce(b.monetary, 0), b.r_score, b.f_score, b.m_score,
        coalesce({rfm.rfm_case_sql("b.r_score", "b.f_score")}, ''), {value_group_case_sql()}, {dormant_sql()},
        {promotion}, ''
    FROM scope s LEFT JOIN scored b ON b.customer_id = s.id LEFT JOIN thresholds t ON t.part = b.part
        LEFT JOIN browsing br ON br.customer_id = s.id"""


def _region_filter(region_ids) -> tuple[str, list]:
    if region_ids is None:
        return "TRUE", []
    return "region_id = ANY(%s::int[])", [list(region_ids)]


def segments_rebuild(*, actor, region_ids=None, as_of: dt.datetime | None = None, progress=None) -> RebuildResult:
    """Recompute every customer's RFM scores, value group, dormancy and promotion base in the given regions
    (None = all), refresh the segment summaries and this month's snapshot. Personas are refreshed separately."""
    as_of = as_of or reference_moment()
    if as_of is None:
        return RebuildResult(None)
    thresholds = Thresholds.from_settings()
    params = _params(region_ids, as_of, thresholds)
    where, args = _region_filter(region_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        _plan_for_bulk(cursor)
        cursor.execute(f"DELETE FROM segments_customerprofile WHERE {where}", args)
        cursor.execute(f"INSERT INTO segments_customerprofile ({PROFILE_COLUMNS}) {_profiles_select()}", params)
        customers = cursor.rowcount
        _report(progress, 60, "profiles written")
        counts = _refresh_summaries(cursor, region_ids)
        _report(progress, 80, "segment summaries written")
        _snapshot_from_profiles(cursor, region_ids, snapshots.month_start(as_of))
        record(
            actor=actor,
            action="segments.rebuilt",
            object_type="segments",
            region_code=_region_code(region_ids),
            after={"customers": customers, "reference_at": as_of, "thresholds": thresholds.params()},
        )
    return RebuildResult(as_of, customers, counts)


def _plan_for_bulk(cursor) -> None:
    """Freshly loaded tables may have no statistics yet; a nested-loop plan over them is quadratic, so the
    set-based statements here ask for hash joins (for this transaction only)."""
    cursor.execute("SET LOCAL enable_nestloop = off")


def _report(progress, value: float, message: str) -> None:
    if progress is not None:
        progress(value, message)


def _region_code(region_ids) -> str:
    if region_ids is not None and len(region_ids) == 1:
        return Region.objects.filter(pk=region_ids[0]).values_list("code", flat=True).first() or ""
    return ""


SUMMARY_SOURCES = {
    "value_group": "value_group",
    "rfm": "rfm_segment",
    "promotion_base": "promotion_base",
    "persona": "persona",
}


def _refresh_summaries(cursor, region_ids) -> dict:
    from segments.models import PromotionBase, ValueGroup

    where, args = _region_filter(region_ids)
    cursor.execute(f"DELETE FROM segments_segment WHERE {where}", args)
    names = {**{g.value: g.label for g in ValueGroup}, **{p.value: p.label for p in PromotionBase}}
    counts: dict[str, int] = {}
    for kind, column in SUMMARY_SOURCES.items():
        cursor.execute(
            f"""INSERT INTO segments_segment (region_id, kind, code, name, size, dormant_size, monetary_total, built_at)
            SELECT region_id, %s, {column}, {column}, count(*), count(*) FILTER (WHERE dormant), sum(monetary), now()
            FROM segments_customerprofile WHERE {where} AND {column} <> '' GROUP BY region_id, {column}""",
            [kind, *args],
        )
        counts[kind] = cursor.rowcount
    for code, name in names.items():
        cursor.execute(f"UPDATE segments_segment SET name = %s WHERE code = %s AND {where}", [name, code, *args])
    return counts


def _snapshot_from_profiles(cursor, region_ids, month: dt.date) -> None:
    where, args = _region_filter(region_ids)
    cursor.execute(f"DELETE FROM segments_segmentsnapshot WHERE month = %s AND {where}", [month, *args])
    cursor.execute(
        f"""INSERT INTO segments_segmentsnapshot (month, customer_id, region_id, state)
        SELECT %s, customer_id, region_id, {snapshots.state_sql("value_group", "dormant")}
        FROM segments_customerprofile WHERE {where} AND value_group <> ''""",
        [month, *args],
    )


def segments_snapshot_months(*, actor, months: int = 12, region_ids=None) -> list[dt.date]:
    """Backfill the snapshots of the `months` months up to the reference date, each measured at month end."""
    if not 1 <= months <= 60:
        raise SegmentError("Between 1 and 60 months can be snapshotted.")
    reference = reference_moment()
    if reference is None:
        return []
    thresholds = Thresholds.from_settings()
    done = []
    with transaction.atomic(), connection.cursor() as cursor:
        _plan_for_bulk(cursor)
        where, args = _region_filter(region_ids)
        for month in snapshots.previous_months(snapshots.month_start(reference), months):
            as_of = min(snapshots.month_end_moment(month), reference)
            params = _params(region_ids, as_of, thresholds)
            cursor.execute(f"DELETE FROM segments_segmentsnapshot WHERE month = %s AND {where}", [month, *args])
            cursor.execute(
                f"""INSERT INTO segments_segmentsnapshot (month, customer_id, region_id, state)
                SELECT %(month)s, p.id, p.region_id, {snapshots.state_sql("p.value_group", "p.dormant")}
                FROM ({_snapshot_select()}) p""",
                {**params, "month": month},
            )
            done.append(month)
        record(
            actor=actor,
            action="segments.snapshotted",
            object_type="segments",
            region_code=_region_code(region_ids),
            after={"months": [m.isoformat() for m in done]},
        )
    return done


def _snapshot_select() -> str:
    """The profile select narrowed to the columns a snapshot needs (customers with no order yet are skipped)."""
    return f"""
    WITH {_scope_cte()}, {rfm.buyers_sql()}, {thresholds_cte()}
    SELECT s.id, s.region_id, {value_group_case_sql()} AS value_group, {dormant_sql()} AS dormant
    FROM scope s JOIN scored b ON b.customer_id = s.id LEFT JOIN thresholds t ON t.part = b.part"""


def personas_rebuild(*, actor, region_ids=None, bootstraps: int = 10) -> list:
    """Cluster each region's purchasing customers, store the run and write each customer's persona."""
    from django.conf import settings

    from segments import personas
    from segments.models import PersonaRun

    regions = Region.objects.all() if region_ids is None else Region.objects.filter(pk__in=region_ids)
    runs = []
    min_ari = float(getattr(settings, "CARTPORTAL_PERSONA_MIN_ARI", 0.75))
    for region in regions:
        frame = personas.load_features(region.pk)
        result = personas.cluster(frame, bootstraps=bootstraps, min_ari=min_ari) if len(frame) else None
        if result is None or result.get("k") is None:
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            run = PersonaRun.objects.create(
                region=region,
                built_at=timezone.now(),
                customers=result["customers"],
                features=result["features"],
                k=result["k"],
                selection=result["selection"],
                stability_ari=result["stability_ari"],
                stability_runs=result["stability_runs"],
                gmm_agreement_ari=result["gmm_agreement_ari"],
                unstable=result["unstable"],
                profiles=result["profiles"],
                note=f"Gaussian mixture chose k={result['k_bic']} by BIC",
            )
            _write_personas(cursor, region.pk, result["labels"])
            _refresh_summaries(cursor, [region.pk])
            record(
                actor=actor,
                action="segments.personas_built",
                object_type="persona run",
                object_id=run.pk,
                region_code=region.code,
                after={"k": run.k, "stability_ari": run.stability_ari},
            )
        runs.append(run)
    return runs


def _write_personas(cursor, region_id: int, labels) -> None:
    cursor.execute("UPDATE segments_customerprofile SET persona = '' WHERE region_id = %s", [region_id])
    cursor.execute("CREATE TEMP TABLE seg_persona (customer_id bigint, persona text) ON COMMIT DROP")
    with cursor.cursor.copy("COPY seg_persona (customer_id, persona) FROM STDIN") as copy:
        for customer_id, name in labels.items():
            copy.write_row((int(customer_id), name))
    cursor.execute(
        """UPDATE segments_customerprofile p SET persona = t.persona FROM seg_persona t
        WHERE p.customer_id = t.customer_id AND p.region_id = %s""",
        [region_id],
    )


UNIVERSES = {
    "all": "Every customer",
    "purchasers": "Customers with a purchase",
    "dormant": "Dormant purchasers",
    "abandoned_7d": "Customers who abandoned a cart in the last 7 days",
}


def audience_universe(region_id: int):
    """The region's profiles with the features audience rules may use (abandoned_carts = carts with an add and
    no purchase in the 7 days before the reference date)."""
    import pandas as pd

    from segments.models import CustomerProfile

    profiles = CustomerProfile.objects.filter(region_id=region_id).values(
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "dormant",
        "value_group",
        "reference_at",
    )
    frame = pd.DataFrame(list(profiles))
    if frame.empty:
        return frame
    frame = frame.set_index("customer_id")
    reference = frame["reference_at"].max()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT customer_id, count(DISTINCT coalesce(session_id, 0)) FROM cartportal_cartevent e
            WHERE region_id = %s AND customer_id IS NOT NULL AND kind = 'add'
              AND occurred_at > %s::timestamptz - interval '7 days' AND occurred_at <= %s
              AND NOT EXISTS (SELECT 1 FROM cartportal_cartevent p WHERE p.customer_id = e.customer_id
                  AND p.kind = 'purchase' AND p.occurred_at >= e.occurred_at)
            GROUP BY customer_id""",
            [region_id, reference, reference],
        )
        abandoned = dict(cursor.fetchall())
    frame["abandoned_carts"] = frame.index.map(lambda i: abandoned.get(i, 0))
    return frame


def audience_evaluate(*, actor, audience) -> dict:
    """Assign every customer of the audience's universe to exactly one segment, apply the size policy, score the
    segments and store members and result."""
    from segments.audiences import rules as engine
    from segments.audiences.scoring import parse_weights, score_segments
    from segments.models import AudienceMember

    rules = engine.parse_rules(audience.rules, audience.catch_all_name)
    weights = parse_weights(audience.weights)
    if audience.universe not in UNIVERSES:
        raise SegmentError(f"Unknown universe {audience.universe!r}.")
    frame = audience_universe(audience.region_id)
    if not frame.empty:
        keep = {
            "all": frame.index == frame.index,
            "purchasers": frame["value_group"] != "",
            "dormant": frame["dormant"],
            "abandoned_7d": frame["abandoned_carts"] > 0,
        }[audience.universe]
        frame = frame[keep]
    import pandas as pd

    labels, thresholds = (
        engine.assign(frame, rules, audience.catch_all_name) if len(frame) else (pd.Series(dtype=object), {})
    )
    labels, flags = engine.apply_size_bounds(
        labels, rules, audience.catch_all_name, audience.min_size, audience.max_size, audience.policy
    )
    order = [r.name for r in rules] + [audience.catch_all_name]
    fits = {r.name: r.strategic_fit for r in rules}
    segments = score_segments(frame, labels, order, fits, weights, audience.region_id) if len(frame) else []
    for row in segments:
        row["flags"] = flags.get(row["segment"], [])
        row["valid"] = not any(f.startswith("invalid") for f in row["flags"])
        row["threshold"] = thresholds.get(row["segment"])
    result = {"universe_size": len(frame), "segments": segments, "weights": weights}
    with transaction.atomic():
        AudienceMember.objects.filter(audience=audience).delete()
        AudienceMember.objects.bulk_create(
            [
                AudienceMember(audience=audience, customer_id=int(c), region_id=audience.region_id, segment=s)
                for c, s in labels.items()
            ],
            batch_size=5000,
        )
        audience.result = result
        audience.evaluated_at = timezone.now()
        audience.save(update_fields=["result", "evaluated_at"])
        record(
            actor=actor,
            action="segments.audience_evaluated",
            object_type="audience",
            object_id=audience.pk,
            region_code=audience.region.code,
            after={"universe": len(frame), "segments": len(segments)},
        )
    return result


def audience_create(
    *,
    actor,
    region,
    name: str,
    universe: str,
    rules: list,
    catch_all_name: str = "Everyone else",
    min_size: int = 0,
    max_size: int | None = None,
    policy: str = "flag",
    weights: dict | None = None,
):
    from cartportal.access import ensure_can
    from segments.audiences import rules as engine
    from segments.audiences.scoring import parse_weights
    from segments.models import AudienceDefinition

    ensure_can(actor, "change", region.pk, what="region")
    if not name.strip():
        raise SegmentError("The audience needs a name.")
    if universe not in UNIVERSES:
        raise SegmentError(f"Unknown universe {universe!r}; use one of {', '.join(UNIVERSES)}.")
    if policy not in ("merge", "flag"):
        raise SegmentError("The size policy is 'merge' or 'flag'.")
    if min_size < 0 or (max_size is not None and max_size < min_size):
        raise SegmentError("Size bounds need 0 <= minimum <= maximum.")
    try:
        engine.parse_rules(rules, catch_all_name)
        parse_weights(weights)
    except engine.RuleError as error:
        raise SegmentError(str(error)) from error
    with transaction.atomic():
        audience = AudienceDefinition.objects.create(
            region=region,
            name=name.strip(),
            universe=universe,
            rules=rules,
            catch_all_name=catch_all_name,
            min_size=min_size,
            max_size=max_size,
            policy=policy,
            weights=weights or {},
            created_by=str(getattr(actor, "pk", "") or actor),
        )
        record(
            actor=actor,
            action="segments.audience_created",
            object_type="audience",
            object_id=audience.pk,
            region_code=region.code,
            after={"name": audience.name, "rules": rules},
        )
    audience_evaluate(actor=actor, audience=audience)
    return audience


def changeable_region_or_404(user, code: str) -> Region:
    """The region `code` if the user may change its data; otherwise the same 404 as for a missing region."""
    from cartportal.access import NotFoundOrForbidden, record_denied, visible_regions

    region = visible_regions(user, "change").filter(code=code).first()
    if region is None:
        record_denied(user, action="change", what="region", object_id=code)
        raise NotFoundOrForbidden("No region matches the given query.")
    return region

"""Audience writes: create a MECE audience strategy and evaluate it over the region's profiles."""

from __future__ import annotations

import logging

from django.db import DataError, connection, transaction
from django.utils import timezone

from cartportal.audit import record
from cartportal.errors import AppError
from cartportal.models import Region
from segments.services.rebuild import SegmentError

logger = logging.getLogger(__name__)

UNIVERSES = {
    "all": "Every customer",
    "purchasers": "Customers with a purchase",
    "dormant": "Dormant purchasers",
    "abandoned_7d": "Customers who abandoned a cart in the last 7 days",
}


def audience_universe(region_id: int):
    """The region's profiles with the features audience rules may use (abandoned_carts = carts with an add and
    no purchase in the 7 days before the reference date; the fields of ``segments.audiences.fields``)."""
    import pandas as pd

    from segments.audiences import fields
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
        activity = fields.activity_frame(cursor, list(frame.index), reference)
    frame["abandoned_carts"] = frame.index.map(lambda i: abandoned.get(i, 0))
    frame, _ = fields.derive(frame.join(activity))
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
        _snapshot_audience(audience, labels, frame)
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


def _snapshot_audience(audience, labels, frame) -> None:
    """The audience's segments for the month of the profiles' reference date (for its transitions)."""
    from segments import snapshots
    from segments.models import SegmentSnapshot

    if frame.empty:
        return
    month = snapshots.month_start(frame["reference_at"].max())
    kind = snapshots.audience_kind(audience.pk)
    SegmentSnapshot.objects.filter(region_id=audience.region_id, month=month, kind=kind).delete()
    SegmentSnapshot.objects.bulk_create(
        [
            SegmentSnapshot(month=month, customer_id=int(c), region_id=audience.region_id, kind=kind, state=s)
            for c, s in labels.items()
        ],
        batch_size=5000,
    )


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
    # Stored and evaluated together: an audience that cannot be evaluated is not kept.
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


def audience_delete(*, actor, audience_id: int) -> None:
    """Delete an audience and its members; the caller must be allowed to change its region (otherwise the same 404
    as for a missing audience). Campaigns keep their audience label as text, so none depends on the row."""
    from cartportal.access import get_scoped_or_404
    from segments.models import AudienceDefinition

    # Looked up before the transaction, so that the audit row of a refused (foreign) attempt is kept.
    found = get_scoped_or_404(AudienceDefinition.objects, actor, "change", pk=audience_id)
    with transaction.atomic():
        audience = get_scoped_or_404(
            AudienceDefinition.objects.select_for_update().select_related("region"), actor, "change", pk=found.pk
        )
        before = {"name": audience.name, "universe": audience.universe, "rules": audience.rules}
        pk, region_code = audience.pk, audience.region.code
        audience.delete()
        record(
            actor=actor,
            action="segments.audience_deleted",
            object_type="audience",
            object_id=pk,
            region_code=region_code,
            before=before,
        )


def changeable_region_or_404(user, code: str) -> Region:
    """The region `code` if the user may change its data; otherwise the same 404 as for a missing region."""
    from cartportal.access import refuse_as_missing, visible_regions

    region = visible_regions(user, "change").filter(code=code).first()
    if region is None:
        known = Region.objects.filter(code=code).values_list("code", flat=True).first() or ""
        refuse_as_missing(user, action="change", what="region", object_id=code, region_code=known)
    return region


def audiences_reevaluate(*, actor, region_ids=None) -> int:
    """Re-evaluate every audience of the given regions (None = all) over the freshly built profiles and the
    newest published scores; returns how many were evaluated."""
    from segments.models import AudienceDefinition

    audiences = AudienceDefinition.objects.select_related("region").order_by("pk")
    if region_ids is not None:
        audiences = audiences.filter(region_id__in=region_ids)
    count = 0
    for audience in audiences:
        if _reevaluate_one(actor, audience):
            count += 1
    return count


def _reevaluate_one(actor, audience) -> bool:
    """Evaluate one audience in its own savepoint. An audience stored before its rules were validated (a "nan"
    value) is marked failed, with an audit row, and does not stop the region's rebuild."""
    try:
        with transaction.atomic():
            audience_evaluate(actor=actor, audience=audience)
        return True
    except (AppError, DataError) as error:
        reason = str(error)[:480]
    logger.warning("audience %s could not be evaluated: %s", audience.pk, reason)
    with transaction.atomic():
        audience.result = {"error": f"could not be evaluated: {reason}"}
        audience.evaluated_at = timezone.now()
        audience.save(update_fields=["result", "evaluated_at"])
        record(
            actor=actor,
            action="segments.audience_failed",
            object_type="audience",
            object_id=audience.pk,
            region_code=audience.region.code,
            after={"error": reason},
        )
    return False

"""Reads for imports: jobs, quarantine and the data-quality report on six dimensions.

An import job is visible to whoever may view its region, and always to the user who started it (its
quarantine is that user's own file)."""

from __future__ import annotations

from django.db.models import Count, F, Max, Q

from cartportal.access import region_ids_for, visible_regions
from cartportal.models import CartEvent, Customer, JobRun, Order, OrderLine, QuarantinedRow, Session

DIMENSIONS = {
    "completeness": {"missing_required", "missing_region", "column_count", "not_an_object"},
    "validity": {
        "not_a_number",
        "bad_date",
        "bad_choice",
        "not_a_boolean",
        "too_long",
        "bad_encoding",
        "malformed_csv",
        "unbalanced_quote",
    },
    "accuracy": {"out_of_range", "negative_value", "unknown_region"},
    "consistency": {"unknown_reference", "region_forbidden"},
    "timeliness": {"future_date"},
    "uniqueness": {"duplicate_in_file", "duplicate_in_database"},
}
DIMENSION_HELP = {
    "accuracy": "Values outside plausible ranges (negative prices, impossible quantities), unknown regions.",
    "completeness": "Required values or whole columns missing.",
    "consistency": "Rows that refer to customers, sessions, products or orders that do not exist, or to regions "
    "the importer may not write to; orders delivered before they were placed.",
    "validity": "Values of the wrong type or format, broken encoding or CSV quoting; bot-like sessions.",
    "timeliness": "Dates in the future; how old the newest record is.",
    "uniqueness": "Rows already in the file or already loaded.",
}


def import_jobs_queryset():
    return JobRun.objects.filter(kind__startswith="import:")


def import_jobs(user):
    base = import_jobs_queryset()
    ids = region_ids_for(user, "view")
    if ids is None:
        return base
    return base.filter(Q(region__in=ids) | Q(started_by=getattr(user, "pk", None))).order_by("-created_at")


def visible_job(user, job_id: int) -> JobRun | None:
    return import_jobs(user).filter(pk=job_id).first()


def quarantine_for(user, job: JobRun):
    rows = QuarantinedRow.objects.filter(job=job)
    if job.started_by_id == getattr(user, "pk", None):
        return rows.order_by("line")
    return rows.restrict(user).order_by("line") if region_ids_for(user) is not None else rows.order_by("line")


def quality_for_job(job: JobRun) -> dict:
    counts = job.counts or {}
    read = counts.get("read") or 0
    by_code = counts.get("by_code", {})
    out = {}
    for dimension, codes in DIMENSIONS.items():
        n = sum(v for k, v in by_code.items() if k in codes)
        examples = list(
            QuarantinedRow.objects.filter(job=job, code__in=codes)
            .order_by("line")
            .values("line", "column", "code", "message")[:3]
        )
        out[dimension] = {
            "count": n,
            "rate": round(n / read, 6) if read else 0.0,
            "examples": examples,
            "help": DIMENSION_HELP[dimension],
        }
    return out


def quality_by_region(user) -> list[dict]:
    regions = list(visible_regions(user, "view"))
    ids = [r.id for r in regions]
    customers = dict(
        Customer.objects.filter(region__in=ids).values("region").annotate(n=Count("id")).values_list("region", "n")
    )
    no_first_seen = dict(
        Customer.objects.filter(region__in=ids, first_seen__isnull=True)
        .values("region")
        .annotate(n=Count("id"))
        .values_list("region", "n")
    )
    sessions = {
        r["region"]: r
        for r in Session.objects.filter(region__in=ids)
        .values("region")
        .annotate(n=Count("id"), bots=Count("id", filter=Q(is_bot=True)), newest=Max("started_at"))
    }
    orders = {
        r["region"]: r
        for r in Order.objects.filter(region__in=ids)
        .values("region")
        .annotate(
            n=Count("id"),
            late=Count("id", filter=Q(delivered_at__lt=F("placed_at"))),
            cancelled=Count("id", filter=Q(status="cancelled")),
            newest=Max("placed_at"),
        )
    }
    lines = dict(
        OrderLine.objects.filter(region__in=ids).values("region").annotate(n=Count("id")).values_list("region", "n")
    )
    events = dict(
        CartEvent.objects.filter(region__in=ids)
        .values("region")
        .annotate(newest=Max("occurred_at"))
        .values_list("region", "newest")
    )
    quarantined = dict(
        QuarantinedRow.objects.filter(region__in=ids)
        .values("region")
        .annotate(n=Count("id"))
        .values_list("region", "n")
    )
    out = []
    for region in regions:
        s, o = sessions.get(region.id, {}), orders.get(region.id, {})
        newest = max([d for d in (s.get("newest"), o.get("newest"), events.get(region.id)) if d], default=None)
        n_customers, n_sessions, n_orders = customers.get(region.id, 0), s.get("n", 0), o.get("n", 0)
        out.append(
            {
                "region": region.code,
                "name": region.name,
                "customers": n_customers,
                "sessions": n_sessions,
                "orders": n_orders,
                "order_lines": lines.get(region.id, 0),
                "completeness": {
                    "customers_without_first_seen": no_first_seen.get(region.id, 0),
                    "rate": _rate(no_first_seen.get(region.id, 0), n_customers),
                },
                "validity": {"bot_sessions": s.get("bots", 0), "rate": _rate(s.get("bots", 0), n_sessions)},
                "consistency": {"delivered_before_placed": o.get("late", 0), "rate": _rate(o.get("late", 0), n_orders)},
                "accuracy": {"cancelled_orders": o.get("cancelled", 0), "rate": _rate(o.get("cancelled", 0), n_orders)},
                "timeliness": {"newest_record": newest.isoformat() if newest else None},
                "uniqueness": {"quarantined_rows": quarantined.get(region.id, 0)},
            }
        )
    return out


def _rate(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0

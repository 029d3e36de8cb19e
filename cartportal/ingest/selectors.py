"""Reads for imports: jobs, quarantine and the data-quality report on six dimensions.

An import job is visible to whoever may view its region, and always to the user who started it (its
quarantine is that user's own file)."""

from __future__ import annotations

from django.db.models import Q

from cartportal.access import region_ids_for
from cartportal.models import JobRun, QuarantinedRow

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
DIMENSION_HELP = {  # shared by the per-import report here and the per-region report (quality.py)
    "accuracy": "Values outside plausible ranges (negative prices, impossible quantities), unknown regions; "
    "order totals that disagree with their lines, sales at a zero price.",
    "completeness": "Required values or whole columns missing; customers without a first-seen date, orders "
    "without a customer.",
    "consistency": "Rows that refer to customers, sessions, products or orders that do not exist, or to regions "
    "the importer may not write to; orders shipped or delivered before they were placed.",
    "validity": "Values of the wrong type or format, broken encoding or CSV quoting; bot-like sessions and "
    "outlying amounts.",
    "timeliness": "Dates in the future; how old the newest record is.",
    "uniqueness": "Rows already in the file or already loaded; customers sharing an e-mail, repeated orders.",
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

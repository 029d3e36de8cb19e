"""Reads for imports: jobs, quarantine and the data-quality report on six dimensions.

An import job is visible to whoever may view its region, through the reader's scope (a token's regions narrow
its user's). "Started by me" never widens that scope: it only adds the starter's own region-less imports (a file
naming its regions per row), and of those the starter reads only the quarantined rows of regions in scope or of
no region."""

from __future__ import annotations

from django.db.models import Q

from cartportal.access import Scope
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
    scope = Scope.of(user, "view")
    base = import_jobs_queryset().order_by("-created_at")
    if scope.is_global:
        return base
    mine = Q(region__isnull=True, started_by=getattr(user, "pk", None)) if scope.ids else Q(pk__in=[])
    return base.filter(scope.q("region") | mine)


def visible_job(user, job_id: int) -> JobRun | None:
    return import_jobs(user).filter(pk=job_id).first()


def quarantine_for(user, job: JobRun):
    """The quarantined rows of a job the caller may see (`visible_job`), intersected with the caller's scope; rows
    of no known region only for the starter of the job."""
    rows = QuarantinedRow.objects.filter(job=job).order_by("line")
    scope = Scope.of(user, "view")
    if scope.is_global:
        return rows
    own_file = job.started_by_id is not None and job.started_by_id == getattr(user, "pk", None)
    unknown_region = Q(region__isnull=True) if own_file and scope.ids else Q(pk__in=[])
    return rows.filter(scope.q("region") | unknown_region)


def quality_for_job(user, job: JobRun) -> dict:
    """The job's quality on six dimensions: counts from the whole file, examples only from rows in the scope."""
    counts = job.counts or {}
    read = counts.get("read") or 0
    by_code = counts.get("by_code", {})
    out = {}
    for dimension, codes in DIMENSIONS.items():
        n = sum(v for k, v in by_code.items() if k in codes)
        examples = list(
            quarantine_for(user, job).filter(code__in=codes).values("line", "column", "code", "message")[:3]
        )
        out[dimension] = {
            "count": n,
            "rate": round(n / read, 6) if read else 0.0,
            "examples": examples,
            "help": DIMENSION_HELP[dimension],
        }
    return out

"""Reads of the prediction platform. Models are global; scores are region-owned and read through the
user's region scope, and only from published runs (a run being written is never visible)."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import Count

from cartportal.access import Scope
from cartportal.pages.rollups import rollup

from .models import DriftReport, Kind, ModelVersion, Score, ScoringRun

CLV_HORIZON_MONTHS = 12
CURVE_MONTHS = 12


def model_versions(user, kind: str = ""):
    versions = ModelVersion.objects.defer("artifact").order_by("kind", "-created_at")
    return versions.filter(kind=kind) if kind else versions


def model_version(pk: int) -> ModelVersion | None:
    return ModelVersion.objects.defer("artifact").filter(pk=pk).first()


def latest_run(kind: str, *, published_before=None) -> ScoringRun | None:
    """The current scores of `kind`: the latest published run (or the latest one published before a moment, while
    its scores are still kept)."""
    runs = ScoringRun.objects.filter(kind=kind, state=ScoringRun.State.PUBLISHED)
    if published_before is not None:
        runs = runs.filter(published_at__lt=published_before)
    return runs.select_related("model_version").order_by("-published_at", "-pk").first()


MODEL_NAMES = {
    "bgnbd_gamma_gamma": "BG/NBD + Gamma-Gamma",
    "pareto_nbd_gamma_gamma": "Pareto/NBD + Gamma-Gamma",
    "hist_gradient_boosting_window": "gradient-boosted window model",
}


def forecast_label(version: ModelVersion | None) -> dict | None:
    """Which horizon and model a value figure comes from, in words for the pages and the API."""
    if version is None:
        return None
    holdout = version.holdout or {}
    days = holdout.get("forecast_days") or holdout.get("horizon_days")
    horizon = "12 months" if days == 365 else (f"{days} days" if days else "an unknown horizon")
    return {
        "horizon_days": days,
        "horizon": horizon,
        "model": MODEL_NAMES.get(version.algorithm, version.algorithm),
        "version": version.pk,
        "backtest_days": holdout.get("horizon_days"),
    }


def recent_runs(kind: str = "", limit: int = 10):
    runs = ScoringRun.objects.select_related("model_version", "job").order_by("-created_at")
    return (runs.filter(kind=kind) if kind else runs)[:limit]


def scores(user, kind: str, region_ids: list[int] | None = None):
    """Scores of the current run of `kind` that the user may see (empty when nothing is published)."""
    run = latest_run(kind)
    if run is None:
        return Score.objects.none()
    return Score.objects.restrict(user).in_regions(region_ids).filter(run=run)


def drift_reports(kind: str = "", limit: int = 24):
    reports = DriftReport.objects.order_by("kind", "-month")
    return (reports.filter(kind=kind) if kind else reports)[:limit]


def flagged_drift() -> dict[str, DriftReport]:
    """The latest drift report of each kind, when it flags something."""
    found = {}
    for kind in Kind.values:
        report = DriftReport.objects.filter(kind=kind).order_by("-month").first()
        if report is not None and report.flagged:
            found[kind] = report
    return found


def kinds_overview(user) -> list[dict]:
    """Per kind: the active version, the latest published run and its visible score count."""
    rows = []
    for kind in Kind.values:
        run = latest_run(kind)
        visible = scores(user, kind).aggregate(n=Count("id"))["n"] if run else 0
        active = ModelVersion.objects.defer("artifact").filter(kind=kind, status="active").first()
        rows.append({"kind": kind, "active": active, "run": run, "visible_scores": visible})
    return rows


def _scope_sql(user, region_ids: list[int] | None, alias: str) -> tuple[str, list]:
    where, params = Scope.of(user, "view", region_ids).sql(f"{alias}.region_id")
    return f" AND {where}", params


def _customer_filter(flt, at: str | None = "COALESCE(c.first_seen, o.first_at)") -> tuple[str, list]:
    """The analysis filter on customers `c`: acquired in the period, bought in the category, on the device (the
    customer's own), in the segment. An empty condition without a filter (the kept rollups)."""
    if flt is None:
        return "", []
    where, params = flt.sql(at=at, customer="c.id", device="c.device")
    return f" AND {where}", params


@rollup
def clv_by_cohort_and_region(user, region_ids: list[int] | None = None, flt=None) -> list[dict]:
    """Per acquisition cohort (month of first purchase or first visit) and region: customers, value so far,
    and predicted value over the next 12 months from the current value run."""
    run = latest_run(Kind.VALUE)
    scope, params = _scope_sql(user, region_ids, "c")
    chosen, chosen_params = _customer_filter(flt)
    scope, params = scope + chosen, params + chosen_params
    run_id = run.pk if run else -1
    query = f"""
        SELECT to_char(date_trunc('month', COALESCE(c.first_seen, o.first_at)), 'YYYY-MM') AS cohort,
               r.code, COUNT(*), COALESCE(SUM(o.spend), 0), COALESCE(SUM(s.value), 0), COUNT(s.id), r.currency
        FROM cartportal_customer c
        JOIN cartportal_region r ON r.id = c.region_id
        LEFT JOIN (SELECT customer_id, MIN(placed_at) AS first_at, SUM(total) AS spend FROM cartportal_order
                   WHERE status NOT IN ('cancelled', 'returned') GROUP BY customer_id) o ON o.customer_id = c.id
        LEFT JOIN predictions_score s ON s.customer_id = c.id AND s.run_id = %s
        WHERE c.erased_at IS NULL {scope}
        GROUP BY 1, 2, r.currency ORDER BY 1 NULLS LAST, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(query, [run_id, *params])
        rows = cursor.fetchall()
    return [
        {
            "cohort": cohort or "unknown",
            "region": code,
            "customers": n,
            "value_to_date": float(spend),
            "predicted_12m": float(predicted) if scored else None,
            "scored": scored,
            "currency": currency,
        }
        for cohort, code, n, spend, predicted, scored, currency in rows
    ]


def _month_index(cohort: str) -> int:
    year, month = cohort.split("-")
    return int(year) * 12 + int(month) - 1


def _last_observed_month(rows) -> int:
    """The latest month with any order in scope (cohort month + months since): the data's "now"."""
    return max((_month_index(cohort) + month for cohort, month, _, _ in rows if month is not None), default=0)


@rollup
def cohort_value_curves(user, region_ids: list[int] | None = None, cohorts: int = 8, flt=None) -> dict:
    """Average cumulative spend per customer by months since acquisition, for the latest cohorts."""
    scope, params = _scope_sql(user, region_ids, "c")
    chosen, chosen_params = _customer_filter(flt, at=None)
    acquired, acquired_params = ("TRUE", []) if flt is None else flt.sql(at="MIN(o.placed_at)")
    scope, params = scope + chosen, params + chosen_params + acquired_params
    query = f"""
        WITH firsts AS (
            SELECT c.id, date_trunc('month', MIN(o.placed_at)) AS cohort
            FROM cartportal_customer c JOIN cartportal_order o ON o.customer_id = c.id
            WHERE o.status NOT IN ('cancelled', 'returned') {scope}
            GROUP BY c.id HAVING {acquired}
        ),
        sizes AS (SELECT cohort, COUNT(*) AS customers FROM firsts GROUP BY cohort)
        SELECT to_char(f.cohort, 'YYYY-MM'),
               (EXTRACT(YEAR FROM age(date_trunc('month', o.placed_at), f.cohort)) * 12
                + EXTRACT(MONTH FROM age(date_trunc('month', o.placed_at), f.cohort)))::int AS m,
               SUM(o.total), sizes.customers
        FROM firsts f JOIN sizes ON sizes.cohort = f.cohort JOIN cartportal_order o ON o.customer_id = f.id
        WHERE o.status NOT IN ('cancelled', 'returned')
        GROUP BY 1, 2, 4 ORDER BY 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    by_cohort: dict[str, dict] = {}
    for cohort, month, spend, size in rows:
        if month is None or month >= CURVE_MONTHS:
            continue
        entry = by_cohort.setdefault(cohort, {"size": size, "spend": [0.0] * CURVE_MONTHS})
        entry["spend"][month] += float(spend)
    latest = sorted(by_cohort)[-cohorts:]
    last = _last_observed_month(rows)
    curves = []
    for cohort in latest:
        entry, running, points = by_cohort[cohort], 0.0, []
        # A curve stops at the data's last month: later months have not happened yet (None draws no point).
        observed = last - _month_index(cohort)
        for month in range(CURVE_MONTHS):
            running += entry["spend"][month]
            points.append(round(running / entry["size"], 2) if month <= observed else None)
        curves.append({"cohort": cohort, "customers": entry["size"], "cumulative_per_customer": points})
    return {"months": list(range(CURVE_MONTHS)), "curves": curves}


@rollup
def payback_by_source(user, region_ids: list[int] | None = None, flt=None) -> list[dict]:
    """Per acquisition source: customers, average acquisition cost, value to date and predicted 12-month
    value per customer, and the months until the average customer has paid back their acquisition cost."""
    run = latest_run(Kind.VALUE)
    scope, params = _scope_sql(user, region_ids, "c")
    chosen, chosen_params = _customer_filter(flt)
    scope, params = scope + chosen, params + chosen_params
    query = f"""
        SELECT COALESCE(NULLIF(c.acquisition_source, ''), 'unknown'), COUNT(*), AVG(c.acquisition_cost),
               COALESCE(SUM(o.spend), 0), COALESCE(SUM(s.value), 0), COUNT(s.id),
               AVG(EXTRACT(EPOCH FROM (now() - COALESCE(c.first_seen, o.first_at))) / 2629800.0)
        FROM cartportal_customer c
        LEFT JOIN (SELECT customer_id, MIN(placed_at) AS first_at, SUM(total) AS spend FROM cartportal_order
                   WHERE status NOT IN ('cancelled', 'returned') GROUP BY customer_id) o ON o.customer_id = c.id
        LEFT JOIN predictions_score s ON s.customer_id = c.id AND s.run_id = %s
        WHERE c.erased_at IS NULL {scope}
        GROUP BY 1 ORDER BY 2 DESC
    """
    with connection.cursor() as cursor:
        cursor.execute(query, [run.pk if run else -1, *params])
        rows = cursor.fetchall()
    result = []
    for source, n, cost, spend, predicted, scored, age_months in rows:
        to_date = float(spend) / n
        future = float(predicted) / scored if scored else None
        result.append(
            {
                "source": source,
                "customers": n,
                "avg_acquisition_cost": None if cost is None else round(float(cost), 2),
                "value_to_date_per_customer": round(to_date, 2),
                "predicted_12m_per_customer": None if future is None else round(future, 2),
                "payback_months": payback_months(
                    cost=None if cost is None else float(cost),
                    value_to_date=to_date,
                    months_so_far=float(age_months or 0),
                    predicted_12m=future,
                ),
            }
        )
    return result


def payback_months(*, cost: float | None, value_to_date: float, months_so_far: float, predicted_12m: float | None):
    """Months from acquisition until cumulative value covers the cost: observed when already paid back
    (spread evenly over the months so far), projected with the predicted monthly value otherwise; None when
    unknown or not paid back within the 12-month horizon."""
    if cost is None or cost <= 0:
        return None
    if value_to_date >= cost:
        if value_to_date <= 0 or months_so_far <= 0:
            return 0.0
        return round(months_so_far * cost / value_to_date, 1)
    if not predicted_12m or predicted_12m <= 0:
        return None
    needed = (cost - value_to_date) / (predicted_12m / CLV_HORIZON_MONTHS)
    return round(months_so_far + needed, 1) if needed <= CLV_HORIZON_MONTHS else None


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def revenue_at_risk_by_region(user, region_ids: list[int] | None = None, *, as_of=None) -> dict[int, float]:
    """Per region: the expected lost revenue of the open carts that the current abandonment run scored, i.e. the sum
    of (probability of abandoning x cart value) that the run stored with each open cart (the same open carts the
    Abandonment tab lists); a score without a stored cart value falls back to its session's cart still holding
    items and not bought. Empty when no abandonment run is published (not measured, not zero). `as_of`: the run
    that was current at that moment instead (empty when none published then is still kept)."""
    run = latest_run(Kind.ABANDONMENT, published_before=as_of)
    if run is None:
        return {}
    scope, params = _scope_sql(user, region_ids, "s")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.region_id, SUM(COALESCE((s.extra ->> 'expected_loss')::float, s.value * cart.open_value))
            FROM predictions_score s
            JOIN LATERAL (
                SELECT SUM(CASE e.kind WHEN 'add' THEN 1 WHEN 'remove' THEN -1 ELSE 0 END
                           * e.quantity * COALESCE(e.unit_price, 0)) AS open_value,
                       bool_or(e.kind = 'purchase') AS bought
                FROM cartportal_cartevent e WHERE e.session_id = s.session_id
                  AND (s.extra ->> 'expected_loss') IS NULL
            ) cart ON TRUE
            WHERE s.run_id = %s AND s.session_id IS NOT NULL
              AND ((s.extra ->> 'expected_loss') IS NOT NULL
                   OR (NOT COALESCE(cart.bought, FALSE) AND cart.open_value > 0)) {scope}
            GROUP BY s.region_id""",
            [run.pk, *params],
        )
        return {region_id: round(float(total), 2) for region_id, total in cursor.fetchall()}


def published_purchase_probability(customer_ids: list[int]) -> dict[int, float]:
    """Customer id -> probability of buying again (p_active) from the current value run, for the customers given
    (the caller has already scoped them, e.g. an audience's universe); customers without a score are absent."""
    run = latest_run(Kind.VALUE)
    if run is None or not customer_ids:
        return {}
    rows = Score.objects.filter(run=run, customer_id__in=customer_ids).values_list("customer_id", "extra")
    return {c: float(extra["p_active"]) for c, extra in rows if extra and extra.get("p_active") is not None}


def _readiness_row(region_code: str, item) -> dict:
    return {
        "region": region_code,
        "kind": item.kind,
        "model": item.model,
        "ready": item.ready,
        "needs": item.needs,
        "has": item.has,
        "missing": item.missing,
        "fallback": "" if item.ready else item.fallback,
    }


@rollup
def _counted_readiness(user, region_ids: list[int] | None = None) -> list[dict]:
    """The checks that count a region's history (every cart, every order), per region of the scope: a rollup,
    because on a large shop they take seconds per region."""
    from cartportal.models import Region

    from .readiness import region_readiness

    rows = []
    for region in Scope.of(user, "view", region_ids).filter(Region.objects.all(), "pk").order_by("code"):
        rows.extend(_readiness_row(region.code, item) for item in region_readiness(region.pk, live=False))
    return rows


def readiness_by_region(user, region_ids: list[int]) -> list[dict]:
    """Per visible region (of ``region_ids``) and model kind: can it train, what is missing, the fallback meanwhile,
    and whether a version of the kind is active. Regions the user may not see are never counted."""
    from cartportal.models import Region

    from .readiness import region_readiness

    active = set(ModelVersion.objects.filter(status="active").values_list("kind", flat=True))
    counted: dict[str, list[dict]] = {}
    for row in _counted_readiness(user, region_ids):
        counted.setdefault(row["region"], []).append(row)
    rows = []
    for region in Scope.of(user, "view", region_ids).filter(Region.objects.all(), "pk").order_by("code"):
        rows.extend(counted.get(region.code, []))
        rows.extend(_readiness_row(region.code, item) for item in region_readiness(region.pk, live=True))
    return [{**row, "active": row["kind"] in active} for row in rows]


def customers_at_risk(user, *, threshold: float, region_ids: list[int] | None = None):
    """Ids of the customers (of the user's regions) whose score in the latest published abandonment run is above
    `threshold`: the "at-risk open carts" audience. Empty when no abandonment run is published."""
    run = latest_run(Kind.ABANDONMENT)
    if run is None:
        return Score.objects.none().values_list("customer_id", flat=True)
    scores = Score.objects.restrict(user).in_regions(region_ids)
    scores = scores.filter(run=run, customer__isnull=False, value__gt=threshold)
    return scores.values_list("customer_id", flat=True).distinct()

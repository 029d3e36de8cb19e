"""The executive rollup: every region side by side, with monthly trends.

Conversion, abandonment and revenue are measured here from sessions, cart events and orders. Revenue at
risk, recovered revenue and campaign lift come from the prediction and intervention apps' selectors; a region
they have no figure for (no published abandonment run, no campaign with outcomes) is reported as not measured
(None), never estimated.
"""

from __future__ import annotations

from collections import defaultdict

from cartportal.access import visible_regions
from cartportal.pages.rollups import rollup
from interventions.selectors import campaign_results_by_region
from predictions.selectors import revenue_at_risk_by_region

from . import fetch_dicts, region_sql, scoped_region_ids

TREND_MONTHS = 6
NOT_MEASURED = "not measured yet"


def _monthly(sql: str, params: list) -> dict[int, dict[str, dict]]:
    by_region: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in fetch_dicts(sql, params):
        by_region[row.pop("region_id")][row.pop("month").strftime("%Y-%m")] = row
    return by_region


def _conversion(where: str, params: list) -> dict:
    return _monthly(
        f"""
        WITH latest AS (SELECT max(started_at) AS t FROM cartportal_session WHERE {where})
        SELECT region_id, date_trunc('month', started_at) AS month,
               count(*) FILTER (WHERE converted) AS converted, count(*) FILTER (WHERE converted IS NOT NULL) AS known
        FROM cartportal_session, latest
        WHERE {where} AND NOT is_bot
          AND started_at > date_trunc('month', latest.t) - interval '{TREND_MONTHS - 1} months'
        GROUP BY 1, 2""",
        params + params,
    )


def _abandonment(where: str, params: list) -> dict:
    return _monthly(
        f"""
        WITH latest AS (SELECT max(occurred_at) AS t FROM cartportal_cartevent WHERE {where}),
        carts AS (
            SELECT region_id, session_id, min(occurred_at) AS opened, bool_or(kind = 'purchase') AS purchased
            FROM cartportal_cartevent, latest
            WHERE {where} AND session_id IS NOT NULL
              AND occurred_at > date_trunc('month', latest.t) - interval '{TREND_MONTHS - 1} months'
            GROUP BY region_id, session_id HAVING bool_or(kind = 'add')
        )
        SELECT region_id, date_trunc('month', opened) AS month, count(*) AS carts,
               count(*) FILTER (WHERE NOT purchased) AS abandoned
        FROM carts GROUP BY 1, 2""",
        params + params,
    )


def _revenue(where: str, params: list) -> dict:
    return _monthly(
        f"""
        WITH latest AS (SELECT max(placed_at) AS t FROM cartportal_order WHERE {where})
        SELECT region_id, date_trunc('month', placed_at) AS month, count(*) AS orders, sum(total) AS revenue
        FROM cartportal_order, latest
        WHERE {where} AND status NOT IN ('cancelled', 'returned') AND cancels_id IS NULL
          AND placed_at > date_trunc('month', latest.t) - interval '{TREND_MONTHS - 1} months'
        GROUP BY 1, 2""",
        params + params,
    )


def _rate(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _series(months: dict[str, dict], part: str, whole: str) -> list[dict]:
    return [{"month": m, "value": _rate(v[part], v[whole]), "n": v[whole]} for m, v in sorted(months.items())]


def _last(series: list[dict]):
    return series[-1]["value"] if series else None


@rollup
def _measured(user, region_ids: list[int] | None = None) -> tuple[dict, dict, dict]:
    where, params = region_sql(scoped_region_ids(user, region_ids))
    return _conversion(where, params), _abandonment(where, params), _revenue(where, params)


def regional_rollup(user, region_ids: list[int] | None = None) -> dict:
    """One row per region the user sees: latest-month conversion and abandonment with their monthly
    trends, revenue, and the other apps' measured figures where they exist (read fresh each time)."""
    ids = scoped_region_ids(user, region_ids)
    conversion, abandonment, revenue = _measured(user, region_ids)
    risk_by_region = revenue_at_risk_by_region(user, ids)
    results_by_region = campaign_results_by_region(user, ids)
    regions = visible_regions(user) if ids is None else visible_regions(user).filter(pk__in=ids)
    rows = []
    for region in regions:
        conv = _series(conversion.get(region.pk, {}), "converted", "known")
        aband = _series(abandonment.get(region.pk, {}), "abandoned", "carts")
        money = revenue.get(region.pk, {})
        result = results_by_region.get(region.pk) or {}
        rows.append(
            {
                "id": region.pk,
                "code": region.code,
                "name": region.name,
                "currency": region.currency,
                "conversion": _last(conv),
                "conversion_trend": conv,
                "abandonment": _last(aband),
                "abandonment_trend": aband,
                "revenue_trend": [{"month": m, "value": float(v["revenue"] or 0)} for m, v in sorted(money.items())],
                "revenue_at_risk": risk_by_region.get(region.pk),
                "recovered_revenue": result.get("recovered_revenue"),
                "campaign_lift": result.get("lift"),
                "campaign_lift_ci": result.get("lift_ci"),
            }
        )
    return {"regions": rows}


CSV_COLUMNS = [
    "region",
    "name",
    "currency",
    "conversion",
    "abandonment_rate",
    "revenue_at_risk",
    "recovered_revenue",
    "campaign_lift",
]


def rollup_csv_rows(rollup: dict):
    for r in rollup["regions"]:
        yield [
            r["code"],
            r["name"],
            r["currency"],
            r["conversion"],
            r["abandonment"],
            NOT_MEASURED if r["revenue_at_risk"] is None else r["revenue_at_risk"],
            NOT_MEASURED if r["recovered_revenue"] is None else r["recovered_revenue"],
            NOT_MEASURED if r["campaign_lift"] is None else r["campaign_lift"],
        ]

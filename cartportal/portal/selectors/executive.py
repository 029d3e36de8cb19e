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
NOT_FILTERED = "not filtered"


def _monthly(sql: str, params: list) -> dict[int, dict[str, dict]]:
    by_region: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in fetch_dicts(sql, params):
        by_region[row.pop("region_id")][row.pop("month").strftime("%Y-%m")] = row
    return by_region


def _filtered(flt, **columns) -> tuple[str, list]:
    """The analysis filter's condition on these columns (`TRUE` without a filter: the kept rollup)."""
    return flt.sql(**columns) if flt is not None else ("TRUE", [])


def _conversion(where: str, params: list, flt=None) -> dict:
    chosen, chosen_params = _filtered(
        flt, at="s.started_at", customer="s.customer_id", device="s.device", session="s.id"
    )
    return _monthly(
        f"""
        WITH latest AS (SELECT max(s.started_at) AS t FROM cartportal_session s WHERE {where} AND {chosen})
        SELECT s.region_id, date_trunc('month', s.started_at) AS month,
               count(*) FILTER (WHERE s.converted) AS converted,
               count(*) FILTER (WHERE s.converted IS NOT NULL) AS known
        FROM cartportal_session s, latest
        WHERE {where} AND NOT s.is_bot AND {chosen}
          AND s.started_at > date_trunc('month', latest.t) - interval '{TREND_MONTHS - 1} months'
        GROUP BY 1, 2""",
        params + chosen_params + params + chosen_params,
    )


CART_DEVICE = "(SELECT fs.device FROM cartportal_session fs WHERE fs.id = c.session_id)"
# a cart's customer: from its events, else from its session (events of a signed-in session may carry none)
CART_CUSTOMER = "COALESCE(c.customer_id, (SELECT fs.customer_id FROM cartportal_session fs WHERE fs.id = c.session_id))"


def _abandonment(where: str, params: list, flt=None) -> dict:
    if flt is None:
        return _abandonment_kept(where, params)
    return _abandonment_filtered(where, params, flt)


def _abandonment_kept(where: str, params: list) -> dict:
    """The kept rollup: only the events of the last months are grouped into carts."""
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


def _abandonment_filtered(where: str, params: list, flt) -> dict:
    """Carts (a session's events with at least one add) by the month they were opened; a filter keeps whole carts:
    opened in the period, holding a product of the category, on the device, of a customer in the segment."""
    chosen, chosen_params = flt.sql(at="c.opened", customer=CART_CUSTOMER, device=CART_DEVICE, session="c.session_id")
    return _monthly(
        f"""
        WITH carts AS (
            SELECT region_id, session_id, max(customer_id) AS customer_id, min(occurred_at) AS opened,
                   bool_or(kind = 'purchase') AS purchased
            FROM cartportal_cartevent
            WHERE {where} AND session_id IS NOT NULL
            GROUP BY region_id, session_id HAVING bool_or(kind = 'add')
        ),
        kept AS (SELECT c.* FROM carts c WHERE {chosen}),
        latest AS (SELECT max(opened) AS t FROM kept)
        SELECT region_id, date_trunc('month', opened) AS month, count(*) AS carts,
               count(*) FILTER (WHERE NOT purchased) AS abandoned
        FROM kept, latest
        WHERE opened > date_trunc('month', latest.t) - interval '{TREND_MONTHS - 1} months'
        GROUP BY 1, 2""",
        params + chosen_params,
    )


ORDER_DEVICE = "(SELECT fc.device FROM cartportal_customer fc WHERE fc.id = o.customer_id)"


def _revenue(where: str, params: list, flt=None) -> dict:
    chosen, chosen_params = _filtered(
        flt, at="o.placed_at", customer="o.customer_id", device=ORDER_DEVICE, order="o.id"
    )
    return _monthly(
        f"""
        WITH latest AS (SELECT max(o.placed_at) AS t FROM cartportal_order o WHERE {where} AND {chosen})
        SELECT o.region_id, date_trunc('month', o.placed_at) AS month, count(*) AS orders, sum(o.total) AS revenue
        FROM cartportal_order o, latest
        WHERE {where} AND o.status NOT IN ('cancelled', 'returned') AND o.cancels_id IS NULL AND {chosen}
          AND o.placed_at > date_trunc('month', latest.t) - interval '{TREND_MONTHS - 1} months'
        GROUP BY 1, 2""",
        params + chosen_params + params + chosen_params,
    )


def _rate(part, whole) -> float | None:
    return round(part / whole, 4) if whole else None


def _series(months: dict[str, dict], part: str, whole: str) -> list[dict]:
    return [{"month": m, "value": _rate(v[part], v[whole]), "n": v[whole]} for m, v in sorted(months.items())]


def _last(series: list[dict]):
    return series[-1]["value"] if series else None


@rollup
def _measured(user, region_ids: list[int] | None = None, flt=None) -> tuple[dict, dict, dict]:
    where, params = region_sql(scoped_region_ids(user, region_ids))
    return _conversion(where, params, flt), _abandonment(where, params, flt), _revenue(where, params, flt)


def regional_rollup(user, region_ids: list[int] | None = None, flt=None) -> dict:
    """One row per region the user sees: latest-month conversion and abandonment with their monthly
    trends, revenue, and the other apps' measured figures where they exist (read fresh each time).

    With analysis filters chosen (`flt`), conversion, abandonment and revenue are computed for them in the request;
    revenue at risk, recovered revenue and campaign lift are the other apps' whole-region figures and are left out
    (None, "not filtered") rather than shown unfiltered beside filtered ones."""
    ids = scoped_region_ids(user, region_ids)
    if flt is not None and flt.active:
        conversion, abandonment, revenue = _measured.uncached(user, region_ids, flt=flt)
        risk_by_region, results_by_region = {}, {}
    else:
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
    return {"regions": rows, "filtered": bool(flt is not None and flt.active)}


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
    if rollup.get("filtered"):  # the other apps' figures are for whole regions: not shown beside filtered ones
        for r in rollup["regions"]:
            yield [r["code"], r["name"], r["currency"], r["conversion"], r["abandonment"], *[NOT_FILTERED] * 3]
        return
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

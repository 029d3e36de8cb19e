"""Behavioural insights: category affinity, price and discount sensitivity, browsing depth by segment,
purchase frequency over time and the customer survey. All figures are computed in the database from
the rows in the user's regions; nothing is sampled or simulated."""

from __future__ import annotations

from collections import Counter, defaultdict

from cartportal.pages.rollups import rollup

from . import fetch_dicts, region_sql, scoped_region_ids

MIN_PAIR_ORDERS = 3
MAX_PAIRS = 15
LIVE_ORDER = "o.status NOT IN ('cancelled', 'returned') AND o.cancels_id IS NULL"
# The device of an order's or cart event's customer or session, for the analysis filters.
ORDER_DEVICE = "(SELECT fc.device FROM cartportal_customer fc WHERE fc.id = o.customer_id)"
EVENT_DEVICE = "(SELECT fs.device FROM cartportal_session fs WHERE fs.id = e.session_id)"


def _filtered(flt, **columns) -> tuple[str, list]:
    """The analysis filter's condition on these columns (`TRUE` without a filter: the kept rollups)."""
    return flt.sql(**columns) if flt is not None else ("TRUE", [])


def _ratio(part, whole) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


@rollup
def category_affinity(user, region_ids: list[int] | None = None, flt=None) -> dict:
    """Categories by orders and revenue, and category pairs bought in the same order with their lift
    (lift = P(A and B) / (P(A) P(B)); above 1 means bought together more often than by chance). With a category
    filter: the orders that include that category, and what else they hold."""
    where, params = region_sql(scoped_region_ids(user, region_ids), "ol.region_id")
    chosen, chosen_params = _filtered(
        flt, at="o.placed_at", customer="o.customer_id", device=ORDER_DEVICE, order="o.id"
    )
    params = params + chosen_params
    base = f"""
        WITH oc AS (
            SELECT ol.order_id, p.category, sum(ol.amount) AS revenue, o.customer_id
            FROM cartportal_orderline ol
            JOIN cartportal_product p ON p.id = ol.product_id
            JOIN cartportal_order o ON o.id = ol.order_id
            WHERE {where} AND {LIVE_ORDER} AND ol.quantity > 0 AND p.category <> '' AND {chosen}
            GROUP BY ol.order_id, p.category, o.customer_id
        )"""
    categories = fetch_dicts(
        base
        + """
        SELECT category, count(*) AS orders, count(DISTINCT customer_id) AS customers, sum(revenue) AS revenue,
               (SELECT count(DISTINCT order_id) FROM oc) AS all_orders
        FROM oc GROUP BY category ORDER BY orders DESC, category""",
        params,
    )
    total = categories[0]["all_orders"] if categories else 0
    for row in categories:
        row.pop("all_orders")
        row["share"] = _ratio(row["orders"], total)
        row["revenue"] = float(row["revenue"] or 0)
    pairs = fetch_dicts(
        base
        + """
        , n AS (SELECT count(DISTINCT order_id) AS total FROM oc)
        , c AS (SELECT category, count(*) AS orders FROM oc GROUP BY category)
        SELECT a.category AS first, b.category AS second, count(*) AS together
        FROM oc a JOIN oc b ON a.order_id = b.order_id AND a.category < b.category
        GROUP BY a.category, b.category HAVING count(*) >= %s""",
        params + [MIN_PAIR_ORDERS],
    )
    by_category = {row["category"]: row["orders"] for row in categories}
    for pair in pairs:
        first, second = by_category[pair["first"]], by_category[pair["second"]]
        pair["support"] = _ratio(pair["together"], total)
        pair["confidence"] = _ratio(pair["together"], first)
        pair["lift"] = round(pair["together"] * total / (first * second), 3)
    # Only pairs bought together more often than chance (lift above 1) are "bought together".
    pairs = [p for p in pairs if p["lift"] > 1]
    pairs.sort(key=lambda p: (-p["lift"], -p["together"], p["first"], p["second"]))
    return {"orders": total, "categories": categories, "pairs": pairs[:MAX_PAIRS]}


DISCOUNT_BANDS = ["above list price", "list price", "up to 10% off", "10-25% off", "over 25% off"]


@rollup
def price_sensitivity(user, region_ids: list[int] | None = None, flt=None) -> dict:
    """How often a cart add ends in a purchase of that product in the same session, by the discount
    against the product's list price at add time, and by the product's list-price quartile."""
    where, params = region_sql(scoped_region_ids(user, region_ids), "e.region_id")
    chosen, chosen_params = _filtered(
        flt, at="e.occurred_at", customer="e.customer_id", device=EVENT_DEVICE, product="e.product_id"
    )
    rows = fetch_dicts(
        f"""
        WITH cut AS (
            SELECT percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY price) AS q
            FROM cartportal_product WHERE price > 0
        ), adds AS (
            SELECT e.session_id, e.product_id, p.price,
                   CASE WHEN e.unit_price > p.price * 1.005 THEN 0
                        WHEN e.unit_price >= p.price * 0.995 THEN 1
                        WHEN e.unit_price >= p.price * 0.90 THEN 2
                        WHEN e.unit_price >= p.price * 0.75 THEN 3
                        ELSE 4 END AS band,
                   CASE WHEN p.price <= cut.q[1] THEN 1 WHEN p.price <= cut.q[2] THEN 2
                        WHEN p.price <= cut.q[3] THEN 3 ELSE 4 END AS quartile
            FROM cartportal_cartevent e JOIN cartportal_product p ON p.id = e.product_id, cut
            WHERE {where} AND e.kind = 'add' AND e.session_id IS NOT NULL
              AND e.unit_price IS NOT NULL AND p.price > 0 AND {chosen}
        ), bought AS (
            SELECT DISTINCT e.session_id, e.product_id FROM cartportal_cartevent e
            WHERE {where} AND e.kind = 'purchase' AND e.session_id IS NOT NULL
        )
        SELECT a.band, a.quartile, count(*) AS adds, count(b.session_id) AS purchased,
               min(a.price) AS low, max(a.price) AS high
        FROM adds a LEFT JOIN bought b ON b.session_id = a.session_id AND b.product_id = a.product_id
        GROUP BY a.band, a.quartile""",
        params + chosen_params + params,
    )
    return {"discount": _bands(rows), "quartiles": _quartiles(rows)}


def _bands(rows: list[dict]) -> list[dict]:
    adds, bought = Counter(), Counter()
    for row in rows:
        adds[row["band"]] += row["adds"]
        bought[row["band"]] += row["purchased"]
    return [
        {"band": label, "adds": adds[i], "purchased": bought[i], "purchase_rate": _ratio(bought[i], adds[i])}
        for i, label in enumerate(DISCOUNT_BANDS)
        if adds[i]
    ]


def _quartiles(rows: list[dict]) -> list[dict]:
    merged: dict[int, dict] = {}
    for row in rows:
        q = merged.setdefault(row["quartile"], {"adds": 0, "purchased": 0, "low": row["low"], "high": row["high"]})
        q["adds"] += row["adds"]
        q["purchased"] += row["purchased"]
        q["low"], q["high"] = min(q["low"], row["low"]), max(q["high"], row["high"])
    return [
        {
            "quartile": f"Q{k}",
            "price_from": float(v["low"]),
            "price_to": float(v["high"]),
            "adds": v["adds"],
            "purchased": v["purchased"],
            "purchase_rate": _ratio(v["purchased"], v["adds"]),
        }
        for k, v in sorted(merged.items())
    ]


DEPTH_BUCKETS = [(0, 4, "0-4"), (5, 14, "5-14"), (15, 39, "15-39"), (40, None, "40+")]


@rollup
def browsing_depth(user, region_ids: list[int] | None = None, flt=None) -> dict:
    """Pages and time per session by visitor segment (new, returning, ...), with the conversion rate
    of each segment and of each depth bucket (product pages viewed). Bot-flagged sessions are left out."""
    where, params = region_sql(scoped_region_ids(user, region_ids), "s.region_id")
    chosen, chosen_params = _filtered(
        flt, at="s.started_at", customer="s.customer_id", device="s.device", session="s.id"
    )
    params = params + chosen_params
    bucket_case = " ".join(
        f"WHEN s.product_pages <= {high} THEN '{label}'" for low, high, label in DEPTH_BUCKETS if high is not None
    )
    rows = fetch_dicts(
        f"""
        SELECT COALESCE(NULLIF(s.visitor_type, ''), 'Unknown') AS segment,
               CASE {bucket_case} ELSE '{DEPTH_BUCKETS[-1][2]}' END AS depth,
               count(*) AS sessions,
               sum(s.administrative_pages + s.informational_pages + s.product_pages) AS pages,
               sum(s.product_pages) AS product_pages,
               sum(s.product_duration) AS product_seconds,
               count(*) FILTER (WHERE s.converted) AS converted,
               count(*) FILTER (WHERE s.converted IS NOT NULL) AS known
        FROM cartportal_session s
        WHERE {where} AND NOT s.is_bot AND {chosen}
        GROUP BY 1, 2""",
        params,
    )
    segments: dict[str, dict] = defaultdict(lambda: Counter())
    for row in rows:
        seg = segments[row["segment"]]
        for key in ("sessions", "pages", "product_pages", "converted", "known"):
            seg[key] += row[key] or 0
        seg["product_seconds"] += float(row["product_seconds"] or 0)
        seg[("depth", row["depth"], "sessions")] += row["sessions"]
        seg[("depth", row["depth"], "converted")] += row["converted"]
        seg[("depth", row["depth"], "known")] += row["known"]
    table = []
    for name, seg in sorted(segments.items(), key=lambda kv: -kv[1]["sessions"]):
        table.append(
            {
                "segment": name,
                "sessions": seg["sessions"],
                "avg_pages": round(seg["pages"] / seg["sessions"], 2),
                "avg_product_pages": round(seg["product_pages"] / seg["sessions"], 2),
                "avg_product_minutes": round(seg["product_seconds"] / seg["sessions"] / 60, 2),
                "conversion_rate": _ratio(seg["converted"], seg["known"]),
                "depth": {
                    label: _ratio(seg[("depth", label, "converted")], seg[("depth", label, "known")])
                    for _, _, label in DEPTH_BUCKETS
                },
                "depth_sessions": {label: seg[("depth", label, "sessions")] for _, _, label in DEPTH_BUCKETS},
            }
        )
    return {"buckets": [label for _, _, label in DEPTH_BUCKETS], "segments": table}


@rollup
def purchase_frequency(user, region_ids: list[int] | None = None, flt=None) -> dict:
    """Orders per month with distinct and returning customers (bought in an earlier month), and how
    many orders each customer has placed. A time period keeps the orders placed in it; whether a customer is
    returning still looks at every earlier order."""
    where, params = region_sql(scoped_region_ids(user, region_ids), "o.region_id")
    chosen, chosen_params = _filtered(flt, customer="o.customer_id", device=ORDER_DEVICE, order="o.id")
    period, period_params = _filtered(flt, at="o.placed_at")
    params = period_params + params + chosen_params  # in the order they appear in the query
    base = f"""
        WITH every AS (
            SELECT o.customer_id, date_trunc('month', o.placed_at) AS month, {period} AS shown
            FROM cartportal_order o WHERE {where} AND {LIVE_ORDER} AND {chosen}
        ), o AS (SELECT customer_id, month FROM every WHERE shown
        ), f AS (
            SELECT customer_id, min(month) AS first_month FROM every WHERE customer_id IS NOT NULL GROUP BY 1
        )"""
    months = fetch_dicts(
        base
        + """
        SELECT o.month, count(*) AS orders, count(DISTINCT o.customer_id) AS customers,
               count(DISTINCT o.customer_id) FILTER (WHERE f.first_month < o.month) AS returning
        FROM o LEFT JOIN f USING (customer_id) GROUP BY o.month ORDER BY o.month""",
        params,
    )
    for row in months:
        row["month"] = row["month"].strftime("%Y-%m")
        row["orders_per_customer"] = _ratio(row["orders"], row["customers"])
        row["returning_share"] = _ratio(row["returning"], row["customers"])
    histogram = fetch_dicts(
        base
        + """
        SELECT CASE WHEN n = 1 THEN '1' WHEN n = 2 THEN '2' WHEN n <= 5 THEN '3-5' ELSE '6+' END AS orders,
               count(*) AS customers
        FROM (SELECT customer_id, count(*) AS n FROM o WHERE customer_id IS NOT NULL GROUP BY 1) c
        GROUP BY 1 ORDER BY min(n)""",
        params,
    )
    return {"months": months, "orders_per_customer": histogram}


AGE_BANDS = [(0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54")]
MAX_CHOICES = 15


@rollup
def survey_summary(user, region_ids: list[int] | None = None) -> dict:
    """Who answered (age bands, gender) and how they answered each closed question. Multi-choice answers
    separated by ';' count once per choice. The question about abandoning a cart is picked out by name."""
    where, params = region_sql(scoped_region_ids(user, region_ids))
    people = fetch_dicts(
        f"SELECT age, NULLIF(gender, '') AS gender, count(*) AS n FROM cartportal_surveyresponse "
        f"WHERE {where} GROUP BY 1, 2",
        params,
    )
    answers = fetch_dicts(
        f"SELECT a.key, a.value, count(*) AS n FROM cartportal_surveyresponse r, jsonb_each_text(r.answers) a "
        f"WHERE {where} AND a.value <> '' GROUP BY 1, 2",
        params,
    )
    ages, genders = Counter(), Counter()
    for row in people:
        ages[_age_band(row["age"])] += row["n"]
        genders[row["gender"] or "not given"] += row["n"]
    questions = _questions(answers)
    abandon = next((q for q in questions if "abandon" in q["key"].lower()), None)
    return {
        "respondents": sum(r["n"] for r in people),
        "age_bands": [{"band": b, "respondents": ages[b]} for b in _band_labels() if ages[b]],
        "genders": [{"gender": g, "respondents": n} for g, n in genders.most_common()],
        "abandon_reasons": abandon["choices"] if abandon else [],
        "abandon_question": abandon["question"] if abandon else "",
        "questions": questions,
    }


def _band_labels() -> list[str]:
    return [label for _, _, label in AGE_BANDS] + ["55+", "not given"]


def _age_band(age) -> str:
    if age is None:
        return "not given"
    return next((label for low, high, label in AGE_BANDS if low <= age <= high), "55+")


def _questions(answers: list[dict]) -> list[dict]:
    by_key: dict[str, Counter] = defaultdict(Counter)
    for row in answers:
        for choice in str(row["value"]).split(";"):
            if choice.strip():
                by_key[row["key"]][choice.strip()] += row["n"]
    questions = []
    for key, counts in sorted(by_key.items()):
        if len(counts) > MAX_CHOICES:
            continue
        total = sum(counts.values())
        questions.append(
            {
                "key": key,
                "question": key.replace("_", " ").strip().capitalize(),
                "choices": [{"answer": a, "count": n, "share": _ratio(n, total)} for a, n in counts.most_common()],
            }
        )
    return questions


@rollup
def region_customers(user, region_ids: list[int] | None = None) -> dict[int, int]:
    """Customers per region in scope (the overview's counts)."""
    where, params = region_sql(scoped_region_ids(user, region_ids))
    rows = fetch_dicts(f"SELECT region_id, count(*) AS n FROM cartportal_customer WHERE {where} GROUP BY 1", params)
    return {row["region_id"]: row["n"] for row in rows}

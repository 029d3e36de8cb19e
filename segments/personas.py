"""Behavioural personas: K-Means and Gaussian mixtures on per-customer behaviour features.

Features (constant ones are dropped, skewed ones log-scaled, all standardised):
- browsing_depth: mean product pages per session; review_reliance: reviews written per order;
- discount_share: share of lines bought below 95 % of the product's median price (discount sensitivity);
- price_level: median of paid price / product median price (price sensitivity, low = cheap choices);
- category_breadth: distinct categories (or products where categories are unknown) bought;
- basket_size: mean lines per order; cadence_days: mean days between orders (routine buyers are short).
k is chosen by the best silhouette (K-Means, k = 2..6); the mixture's k by the lowest BIC; both are shown.
Stability: K-Means refitted on bootstrap resamples labels the same customers; the mean adjusted Rand index
against the chosen solution is reported, and a solution below CARTPORTAL_PERSONA_MIN_ARI is flagged unstable.
Each persona is named after its most distinguishing feature (largest |z| of its mean).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from django.db import connection, transaction

from segments.bulk import plan_for_bulk

FEATURES = [
    "browsing_depth",
    "review_reliance",
    "discount_share",
    "price_level",
    "category_breadth",
    "basket_size",
    "cadence_days",
]
NAMES = {
    ("discount_share", 1): "Price-Sensitive",
    ("price_level", -1): "Price-Sensitive",
    ("price_level", 1): "Premium Buyer",
    ("review_reliance", 1): "Review-Reliant",
    ("category_breadth", 1): "Explorer",
    ("browsing_depth", 1): "Deep Browser",
    ("cadence_days", -1): "Routine Buyer",
    ("basket_size", 1): "Bulk Buyer",
    ("cadence_days", 1): "Occasional Buyer",
    ("basket_size", -1): "Light Basket",
    ("category_breadth", -1): "Focused Buyer",
    ("discount_share", -1): "Full-Price Buyer",
    ("browsing_depth", -1): "Quick Visitor",
    ("review_reliance", -1): "Self-Directed",
}
LOG_SCALED = {"browsing_depth", "category_breadth", "basket_size", "cadence_days", "review_reliance"}
SAMPLE = 20_000


FEATURES_SQL = """
WITH lines AS MATERIALIZED (
    SELECT o.customer_id, o.id AS order_id, o.placed_at, l.unit_price::float8 AS unit_price,
           coalesce(l.sku, '') COLLATE "C" AS sku, coalesce(nullif(p.category, ''), l.sku) COLLATE "C" AS category
    FROM cartportal_order o JOIN cartportal_orderline l ON l.order_id = o.id
    LEFT JOIN cartportal_product p ON p.id = l.product_id
    WHERE o.region_id = %(region)s AND o.customer_id IS NOT NULL AND o.status NOT IN ('cancelled', 'returned')
      AND l.quantity > 0 AND l.unit_price > 0
),
typical AS (SELECT sku, percentile_cont(0.5) WITHIN GROUP (ORDER BY unit_price) AS median FROM lines GROUP BY sku),
bought AS (
    SELECT l.customer_id,
        avg(CASE WHEN l.unit_price < 0.95 * t.median THEN 1.0 ELSE 0.0 END) AS discount_share,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY l.unit_price / nullif(t.median, 0)) AS price_level,
        count(DISTINCT l.category) AS category_breadth,
        count(DISTINCT l.order_id) AS orders, count(*) AS lines,
        extract(epoch FROM max(l.placed_at) - min(l.placed_at)) / 86400 AS span_days
    FROM lines l JOIN typical t ON t.sku = l.sku
    GROUP BY l.customer_id
)
SELECT b.customer_id, b.discount_share, b.price_level, b.category_breadth,
    b.lines::float8 / b.orders AS basket_size, b.span_days / nullif(b.orders - 1, 0) AS cadence_days, b.orders,
    coalesce(s.depth, 0) AS browsing_depth, coalesce(r.n, 0)::float8 / b.orders AS review_reliance
FROM bought b
LEFT JOIN (SELECT customer_id, avg(product_pages) AS depth FROM cartportal_session
           WHERE region_id = %(region)s AND customer_id IS NOT NULL GROUP BY customer_id) s
       ON s.customer_id = b.customer_id
LEFT JOIN (SELECT customer_id, count(*) AS n FROM cartportal_review
           WHERE region_id = %(region)s AND customer_id IS NOT NULL GROUP BY customer_id) r
       ON r.customer_id = b.customer_id"""


def load_features(region_id: int) -> pd.DataFrame:
    """One row per purchasing customer of the region, in one set-based statement read into pandas.

    Mean lines per order is lines / orders and the mean gap between orders is the first-to-last span / (orders
    - 1), so no per-order pass is needed; SKUs and categories compare byte-wise (their order does not matter)."""
    with transaction.atomic(), connection.cursor() as cursor:
        plan_for_bulk(cursor)
        cursor.execute(FEATURES_SQL, {"region": region_id})
        columns = [c.name for c in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=columns).set_index("customer_id")
    return frame.astype(float)


def prepare(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    data = frame[FEATURES].copy()
    longest = data["cadence_days"].max()
    data["cadence_days"] = data["cadence_days"].fillna(longest if pd.notna(longest) else 0)
    data = data.fillna(0)
    for name in LOG_SCALED:
        data[name] = np.log1p(data[name].clip(lower=0))
    kept = [c for c in FEATURES if data[c].std() > 1e-9]
    values = data[kept].to_numpy()
    values = (values - values.mean(axis=0)) / values.std(axis=0)
    return values, kept


def cluster(frame: pd.DataFrame, *, seed: int = 7, ks=range(2, 7), bootstraps: int = 10, min_ari: float = 0.75) -> dict:
    """Choose k, fit on a sample of at most SAMPLE customers, measure stability and label every customer.

    One thread: the fits are small (a sample of 20,000), and OpenMP threads that spin-wait for busy cores make
    them up to ten times slower on a shared machine (the database is working on the other core meanwhile)."""
    import sklearn.cluster  # noqa: F401  (loads the OpenMP runtime, so that the limit below applies to it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _cluster(frame, seed=seed, ks=ks, bootstraps=bootstraps, min_ari=min_ari)


def _cluster(frame: pd.DataFrame, *, seed: int, ks, bootstraps: int, min_ari: float) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    values, kept = prepare(frame)
    n = len(values)
    if n < 10 or len(kept) < 2:
        return {"customers": n, "features": kept, "k": None, "note": "Too few customers or features to cluster."}
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(n, size=min(n, SAMPLE), replace=False)
    fit = values[fit_rows]
    selection, models = [], {}
    for k in [k for k in ks if k < len(fit)]:
        kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(fit)
        gmm = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed).fit(fit)
        sil = float(silhouette_score(fit, kmeans.labels_, sample_size=min(len(fit), 3000), random_state=seed))
        selection.append({"k": k, "silhouette": round(sil, 4), "bic": round(float(gmm.bic(fit)), 1)})
        models[k] = (kmeans, gmm)
    best = max(selection, key=lambda s: s["silhouette"])["k"]
    best_bic = min(selection, key=lambda s: s["bic"])["k"]
    kmeans = models[best][0]
    base = kmeans.labels_
    runs = []
    for b in range(bootstraps):
        resample = fit[rng.integers(0, len(fit), size=len(fit))]
        refit = KMeans(n_clusters=best, n_init=2, random_state=seed + b + 1).fit(resample)
        runs.append(round(float(adjusted_rand_score(base, refit.predict(fit))), 4))
    ari = float(np.mean(runs))
    gmm_labels = models[best_bic][1].predict(fit)
    labels = kmeans.predict(values)
    profiles = _profiles(frame, values, kept, labels)
    return {
        "customers": n,
        "features": kept,
        "k": best,
        "k_bic": best_bic,
        "selection": selection,
        "stability_ari": round(ari, 4),
        "stability_runs": runs,
        "unstable": ari < min_ari,
        "gmm_agreement_ari": round(float(adjusted_rand_score(base, gmm_labels)), 4),
        "profiles": profiles,
        "labels": pd.Series(np.array([p["name"] for p in profiles], dtype=object)[labels], index=frame.index),
        "note": "",
    }


def _profiles(frame: pd.DataFrame, values: np.ndarray, kept: list[str], labels: np.ndarray) -> list[dict]:
    profiles, used = [], {}
    for c in range(labels.max() + 1):
        members = labels == c
        z = values[members].mean(axis=0)
        top = int(np.argmax(np.abs(z)))
        name = NAMES.get((kept[top], 1 if z[top] > 0 else -1), kept[top])
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f"{name} {used[name]}"
        profiles.append(
            {
                "name": name,
                "size": int(members.sum()),
                "means": {f: _mean(frame.loc[members, f]) for f in kept},
                "z": {f: round(float(v), 3) for f, v in zip(kept, z, strict=True)},
            }
        )
    return profiles


def _mean(values: pd.Series) -> float | None:
    """Mean over the customers where the feature exists (cadence needs two orders); None when none has it."""
    mean = values.mean()
    return None if pd.isna(mean) else round(float(mean), 4)

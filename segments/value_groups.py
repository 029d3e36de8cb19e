"""Value x frequency groups and dormancy.

- High value: net monetary value strictly above the CARTPORTAL_SEGMENT_VALUE_QUANTILE quantile (0.5 = the
  median, linear interpolation) of the purchasing customers it is compared with (the customer's region when
  CARTPORTAL_SEGMENT_THRESHOLDS_BY_REGION is true, the default; otherwise every region rebuilt together).
- Frequent: at least CARTPORTAL_SEGMENT_FREQUENT_ORDERS orders (2 by default).
- Loyal = high value and frequent; Regular = frequent, not high value; Big Fish = high value, infrequent;
  One-time = neither.
- Dormant: a purchasing customer whose last purchase is older than CARTPORTAL_DORMANT_DAYS (90) days before the
  reference date (a purchase exactly 90 days before still counts as within the window).
Customers without a standing purchase have no value group and are never dormant.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from segments.models import ValueGroup


@dataclass(frozen=True)
class Thresholds:
    value_quantile: float
    frequent_orders: int
    dormant_days: int
    by_region: bool

    @classmethod
    def from_settings(cls) -> Thresholds:
        return cls(
            value_quantile=float(getattr(settings, "CARTPORTAL_SEGMENT_VALUE_QUANTILE", 0.5)),
            frequent_orders=int(getattr(settings, "CARTPORTAL_SEGMENT_FREQUENT_ORDERS", 2)),
            dormant_days=int(getattr(settings, "CARTPORTAL_DORMANT_DAYS", 90)),
            by_region=bool(getattr(settings, "CARTPORTAL_SEGMENT_THRESHOLDS_BY_REGION", True)),
        )

    def params(self) -> dict:
        return {
            "quantile": self.value_quantile,
            "frequent": self.frequent_orders,
            "dormant_days": self.dormant_days,
            "by_region": self.by_region,
        }


def value_group_case_sql() -> str:
    high = "b.monetary > t.value_threshold"
    frequent = "b.frequency >= %(frequent)s"
    return (
        f"CASE WHEN b.customer_id IS NULL THEN '' "
        f"WHEN {high} AND {frequent} THEN '{ValueGroup.LOYAL}' "
        f"WHEN {frequent} THEN '{ValueGroup.REGULAR}' "
        f"WHEN {high} THEN '{ValueGroup.BIG_FISH}' "
        f"ELSE '{ValueGroup.ONE_TIME}' END"
    )


def dormant_sql() -> str:
    return "coalesce(b.last_purchase < %(as_of)s::timestamptz - make_interval(days => %(dormant_days)s), false)"


def thresholds_cte() -> str:
    return """
    thresholds AS (
        SELECT part, percentile_cont(%(quantile)s) WITHIN GROUP (ORDER BY monetary) AS value_threshold
        FROM buyers GROUP BY part
    )"""

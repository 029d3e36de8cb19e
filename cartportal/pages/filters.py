"""The filters every analysis page offers, kept in the query string so that a filtered page can be shared, survives a
reload, and its CSV export holds the same rows.

- `?region=CODE`: limited to the regions the user may see; an unknown or foreign code shows every region the user
  may see (it never widens the scope).
- `?from=YYYY-MM-DD&to=YYYY-MM-DD`: the time period (both ends included), on the date that belongs to each row
  (an order's placing, a session's start, a customer's acquisition).
- `?category=NAME`: orders, sessions and customers that include a product of that category.
- `?device=NAME`: sessions on that device; orders and customers by the customer's device.
- `?segment=KIND:CODE`: customers in that segment (`rfm:champions`, `value_group:high`, `persona:...`), as the
  segments app answers (`cartportal.extensions.customer_segments`).

A value that is not one of the offered choices, or a date that is not a date, is refused with a message (400), never
silently ignored. Each selector says which columns carry the period, the customer, the device and the category of
its rows (`AnalysisFilter.sql`); a filter a table cannot honour is reported to the page as not applied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db import connection

from cartportal import extensions, kept
from cartportal.access import Scope, visible_regions
from cartportal.errors import AppError
from cartportal.models import Region, Session

CHOICES_SECONDS = 300  # how long the offered devices and segments of a scope are kept


@dataclass
class RegionFilter:
    regions: list[Region]
    selected: Region | None

    @property
    def region_ids(self) -> list[int]:
        """Ids to filter by: the chosen region, or every visible region."""
        return [self.selected.pk] if self.selected else [r.pk for r in self.regions]

    @property
    def code(self) -> str:
        return self.selected.code if self.selected else ""


def region_filter(request) -> RegionFilter:
    regions = list(visible_regions(request.user))
    code = request.GET.get("region", "")
    selected = next((r for r in regions if r.code == code), None)
    return RegionFilter(regions=regions, selected=selected)


FILTER_LABELS = {"period": "time period", "category": "category", "device": "device", "segment": "customer segment"}


@dataclass
class AnalysisFilter:
    region: RegionFilter
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    category: str = ""
    device: str = ""
    segment: str = ""
    categories: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    segments: list[tuple[str, str]] = field(default_factory=list)
    applied: set[str] = field(default_factory=set)

    @property
    def region_ids(self) -> list[int]:
        return self.region.region_ids

    @property
    def code(self) -> str:
        return self.region.code

    @property
    def regions(self) -> list[Region]:
        return self.region.regions

    @property
    def selected(self) -> Region | None:
        return self.region.selected

    def chosen(self) -> list[str]:
        """The filters in use besides the region."""
        values = {
            "period": self.date_from or self.date_to,
            "category": self.category,
            "device": self.device,
            "segment": self.segment,
        }
        return [name for name, value in values.items() if value]

    @property
    def active(self) -> bool:
        return bool(self.chosen())

    @property
    def not_applied(self) -> list[str]:
        """Filters in use that no table of the page could honour (the page says so)."""
        return [FILTER_LABELS[name] for name in self.chosen() if name not in self.applied]

    def params(self) -> dict[str, str]:
        values = {
            "region": self.code,
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "category": self.category,
            "device": self.device,
            "segment": self.segment,
        }
        return {k: v for k, v in values.items() if v}

    def query(self, **extra: str) -> str:
        """The filters as a query string (for the CSV export, the pager and other links), plus `extra`."""
        return urlencode({**self.params(), **{k: v for k, v in extra.items() if v}})

    def read(self, selector, user, **kwargs):
        """A rollup selector as kept for the scope when no other filter is chosen; computed for this filter (in the
        request, not kept) otherwise."""
        if not self.active:
            return selector(user, self.region_ids, **kwargs)
        return selector.uncached(user, self.region_ids, flt=self, **kwargs)

    def period_q(self, field_name: str):
        """The period as a queryset condition on a date-time field (for pages that list model rows)."""
        from django.db.models import Q

        q = Q()
        if self.date_from:
            self.applied.add("period")
            q &= Q(**{f"{field_name}__gte": dt.datetime.combine(self.date_from, dt.time.min, tzinfo=dt.UTC)})
        if self.date_to:
            self.applied.add("period")
            end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
            q &= Q(**{f"{field_name}__lt": end})
        return q

    def sql(
        self,
        *,
        at: str | None = None,
        customer: str | None = None,
        device: str | None = None,
        product: str | None = None,
        order: str | None = None,
        session: str | None = None,
    ) -> tuple[str, list]:
        """An SQL condition (`TRUE` when nothing applies) for rows whose period date is `at`, customer id `customer`,
        device expression `device`, and whose category is read from `product`, else `order` (its lines), else
        `session` (its cart events), else `customer` (their orders)."""
        parts: list[str] = []
        params: list = []
        if at and (self.date_from or self.date_to):
            self.applied.add("period")
            if self.date_from:
                parts.append(f"{at} >= %s")
                params.append(dt.datetime.combine(self.date_from, dt.time.min, tzinfo=dt.UTC))
            if self.date_to:
                parts.append(f"{at} < %s")
                params.append(dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC))
        if self.category and (condition := _category_sql(product, order, session, customer)):
            self.applied.add("category")
            parts.append(condition)
            params.append(self.category)
        if self.device and device:
            self.applied.add("device")
            parts.append(f"{device} = %s")
            params.append(self.device)
        if self.segment and customer:
            members, member_params = extensions.customer_segment_sql(self.segment)
            self.applied.add("segment")
            parts.append(f"{customer} IN ({members})")
            params += member_params
        return (" AND ".join(parts) or "TRUE"), params


def _category_sql(product: str | None, order: str | None, session: str | None, customer: str | None) -> str:
    in_category = "fp.id = {col} AND fp.category = %s"
    if product:
        return f"EXISTS (SELECT 1 FROM cartportal_product fp WHERE {in_category.format(col=product)})"
    if order:
        return (
            "EXISTS (SELECT 1 FROM cartportal_orderline fl JOIN cartportal_product fp ON fp.id = fl.product_id "
            f"WHERE fl.order_id = {order} AND fp.category = %s)"
        )
    if session:
        return (
            "EXISTS (SELECT 1 FROM cartportal_cartevent fe JOIN cartportal_product fp ON fp.id = fe.product_id "
            f"WHERE fe.session_id = {session} AND fp.category = %s)"
        )
    if customer:
        return (
            "EXISTS (SELECT 1 FROM cartportal_order fo JOIN cartportal_orderline fl ON fl.order_id = fo.id "
            "JOIN cartportal_product fp ON fp.id = fl.product_id "
            f"WHERE fo.customer_id = {customer} AND fp.category = %s)"
        )
    return ""


def _scope_key(kind: str, region_ids: list[int]) -> str:
    scope = ",".join(str(i) for i in sorted(region_ids))
    return f"analysis-filter:{kind}:{hashlib.sha1(scope.encode()).hexdigest()}"


def _categories(region_ids: list[int]) -> list[str]:
    """The categories of the products ordered or put in a cart in these regions (a category only another region
    sells is not named to this reader)."""

    def compute() -> list[str]:
        where = "p.category <> '' AND (EXISTS (SELECT 1 FROM cartportal_orderline ol WHERE ol.product_id = p.id AND "
        where += "ol.region_id = ANY(%s)) OR EXISTS (SELECT 1 FROM cartportal_cartevent e WHERE e.product_id = p.id "
        where += "AND e.region_id = ANY(%s)))"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT p.category FROM cartportal_product p WHERE {where}", [region_ids] * 2)
            return sorted(row[0] for row in cursor.fetchall())

    return kept.get_or_set(_scope_key("categories", region_ids), compute, CHOICES_SECONDS)


def _devices(region_ids: list[int]) -> list[str]:
    def compute() -> list[str]:
        sessions = Session.objects.filter(region_id__in=region_ids).exclude(device="")
        return sorted(sessions.values_list("device", flat=True).distinct().order_by())

    return kept.get_or_set(_scope_key("devices", region_ids), compute, CHOICES_SECONDS)


def _segments(region_ids: list[int]) -> list[tuple[str, str]]:
    def compute() -> list[tuple[str, str]]:
        return [tuple(c) for c in extensions.customer_segment_choices(Scope.from_ids(region_ids))]

    return kept.get_or_set(_scope_key("segments", region_ids), compute, CHOICES_SECONDS)


def _date(request, name: str, label: str) -> dt.date | None:
    text = request.GET.get(name, "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AppError(f"The {label} date {text[:40]!r} is not a date: write it as YYYY-MM-DD.", "invalid") from None


def _choice(request, name: str, offered: list[str], label: str) -> str:
    value = request.GET.get(name, "").strip()
    if value and value not in offered:
        raise AppError(f"{label.capitalize()} {value[:60]!r} is not one of the choices offered here.", "invalid")
    return value


def analysis_filter(request) -> AnalysisFilter:
    """The filters of an analysis page, read from the query string and checked against what the user may see."""
    region = region_filter(request)
    ids = region.region_ids
    flt = AnalysisFilter(
        region=region,
        date_from=_date(request, "from", "start"),
        date_to=_date(request, "to", "end"),
        categories=_categories(ids),
        devices=_devices(ids),
        segments=_segments(ids),
    )
    if flt.date_from and flt.date_to and flt.date_from > flt.date_to:
        raise AppError("The start date is after the end date.", "invalid")
    flt.category = _choice(request, "category", flt.categories, "category")
    flt.device = _choice(request, "device", flt.devices, "device")
    flt.segment = _choice(request, "segment", [value for value, _ in flt.segments], "customer segment")
    return flt

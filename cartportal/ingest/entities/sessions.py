"""Sessions: one row per visit, page counts and durations by page type."""

from __future__ import annotations

import pandas as pd

from ..schema import EntitySpec, Field
from .base import KEY_LENGTH, REGION, Loader, column_or, numbers

MONTHS = {
    m.lower(): str(i)
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
    )
}
MONTHS.update({"jun": "6", "july": "7", **{str(i): str(i) for i in range(1, 13)}})


BOT_PAGES_PER_SECOND = 2.0
BOT_MIN_PAGES = 30


class SessionLoader(Loader):
    spec = EntitySpec(
        "sessions",
        "Sessions",
        (
            Field("session", synonyms=("session_id", "sessionid", "visit_id", "id"), max_length=64),
            Field("customer", synonyms=("customer_id", "customerid", "user_id"), max_length=KEY_LENGTH),
            Field("started_at", "datetime", synonyms=("start", "session_start", "timestamp", "date")),
            Field("month", "choice", choices=MONTHS, synonyms=("month",)),
            Field("weekend", "bool"),
            Field("special_day", "decimal", min=0, max=1, synonyms=("specialday",)),
            Field("device", max_length=32, synonyms=("device_type",)),
            Field("operating_system", max_length=32, synonyms=("operatingsystems", "os")),
            Field("browser", max_length=32),
            Field("traffic_source", max_length=32, synonyms=("traffictype", "source", "channel")),
            Field("visitor_type", max_length=32, synonyms=("visitortype",)),
            Field("administrative_pages", "int", min=0, synonyms=("administrative",)),
            Field("administrative_duration", "decimal", min=0),
            Field("informational_pages", "int", min=0, synonyms=("informational",)),
            Field("informational_duration", "decimal", min=0),
            Field("product_pages", "int", min=0, synonyms=("productrelated", "product_related")),
            Field("product_duration", "decimal", min=0, synonyms=("productrelated_duration",)),
            Field("bounce_rate", "decimal", min=0, max=1, synonyms=("bouncerates",)),
            Field("exit_rate", "decimal", min=0, max=1, synonyms=("exitrates",)),
            Field("page_value", "decimal", min=0, synonyms=("pagevalues",)),
            Field("converted", "bool", synonyms=("revenue", "purchased", "conversion")),
            REGION,
        ),
        key=("session",),
        help="A session without an id column gets one from the file's fingerprint and its line, so a re-import "
        "adds nothing. Bot-like sessions (at least 30 pages at more than 2 pages a second) load flagged.",
    )
    table = "cartportal_session"
    natural_key = "external_id"
    numeric = [
        "administrative_pages",
        "administrative_duration",
        "informational_pages",
        "informational_duration",
        "product_pages",
        "product_duration",
        "bounce_rate",
        "exit_rate",
        "page_value",
        "special_day",
    ]
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("customer", "text"),
        ("region_id", "int"),
        ("started_at", "timestamptz"),
        ("month", "int"),
        ("weekend", "bool"),
        ("device", "text"),
        ("operating_system", "text"),
        ("browser", "text"),
        ("traffic_source", "text"),
        ("visitor_type", "text"),
        ("administrative_pages", "int"),
        ("administrative_duration", "float8"),
        ("informational_pages", "int"),
        ("informational_duration", "float8"),
        ("product_pages", "int"),
        ("product_duration", "float8"),
        ("bounce_rate", "float8"),
        ("exit_rate", "float8"),
        ("page_value", "float8"),
        ("special_day", "float8"),
        ("converted", "bool"),
        ("is_bot", "bool"),
    ]
    references = [("customer", "cartportal_customer", "external_id", "customer")]

    def prepare(self, parsed, context):
        session_id = column_or(parsed, "session")
        fallback = pd.Series([f"{context.fingerprint}:{line}" for line in context.lines], index=parsed.index)
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": session_id.where(session_id.notna(), fallback),
                "customer": column_or(parsed, "customer"),
                "region_id": context.region_ids,
                "started_at": column_or(parsed, "started_at"),
            }
        )
        out["month"] = column_or(parsed, "month")
        if "started_at" in parsed:
            out["month"] = out["month"].where(out["month"].notna(), parsed["started_at"].dt.month)
        out["weekend"] = column_or(parsed, "weekend", False).fillna(False)
        for name in ("device", "operating_system", "browser", "traffic_source", "visitor_type"):
            out[name] = column_or(parsed, name, "").fillna("")
        for name in self.numeric:
            out[name] = numbers(column_or(parsed, name), default=0)
        out["converted"] = column_or(parsed, "converted")
        pages = out[["administrative_pages", "informational_pages", "product_pages"]].sum(axis=1)
        seconds = out[["administrative_duration", "informational_duration", "product_duration"]].sum(axis=1)
        out["is_bot"] = (pages >= BOT_MIN_PAGES) & (pages > BOT_PAGES_PER_SECOND * seconds)
        out = out[[c for c, _ in self.staging]]
        return out, []

    def insert(self, cursor) -> dict:
        columns = [c for c, _ in self.staging if c not in {"line", "customer"}]
        cursor.execute(f"""
            INSERT INTO cartportal_session ({", ".join(columns)}, customer_id)
            SELECT {", ".join("s." + c for c in columns)}, c.id FROM stg s
            LEFT JOIN cartportal_customer c ON c.external_id = s.customer
            ON CONFLICT (external_id) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}

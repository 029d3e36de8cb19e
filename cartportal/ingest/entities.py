"""The things a shop can import, their fields, and how their rows reach the database.

Each loader turns a validated chunk into staging rows (with a content key for de-duplication), lists
the reference checks that run in SQL against what is already loaded, and moves staging rows into the
real tables with set-based INSERTs. Keys make a re-import add nothing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .schema import EntitySpec, Field

EVENT_KINDS = {
    "add": "add",
    "add_to_cart": "add",
    "addtocart": "add",
    "cart_add": "add",
    "added": "add",
    "remove": "remove",
    "remove_from_cart": "remove",
    "removefromcart": "remove",
    "cart_remove": "remove",
    "checkout": "checkout",
    "begin_checkout": "checkout",
    "checkout_start": "checkout",
    "purchase": "purchase",
    "order": "purchase",
    "buy": "purchase",
    "transaction": "purchase",
}
ORDER_STATUSES = {
    "placed": "placed",
    "created": "placed",
    "approved": "placed",
    "processing": "placed",
    "invoiced": "placed",
    "shipped": "shipped",
    "delivered": "delivered",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "unavailable": "cancelled",
    "returned": "returned",
}
MONTHS = {
    m.lower(): str(i)
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
    )
}
MONTHS.update({"jun": "6", "july": "7", **{str(i): str(i) for i in range(1, 13)}})
REGION = Field("region", synonyms=("country", "region_code", "market", "state", "customer_state", "store"))


def content_key(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A 32-hex-digit key (two independent 64-bit hashes) from the listed parsed columns, independent of how
    pandas typed a chunk (1 and 1.0, or a date parsed from any format, give the same key)."""
    canonical = pd.DataFrame({c: _canonical(frame[c]) for c in columns})
    first = pd.util.hash_pandas_object(canonical, index=False, hash_key="cartportal-key-1").to_numpy()
    second = pd.util.hash_pandas_object(canonical, index=False, hash_key="cartportal-key-2").to_numpy()
    return np.char.add(np.char.mod("%016x", first), np.char.mod("%016x", second)).astype(object)


def _canonical(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64").round(9).astype(str).replace("nan", "")
    return series.astype(object).where(series.notna(), "").astype(str)


class Loader:
    spec: EntitySpec
    table: str = ""
    staging: list[tuple[str, str]] = []  # (column, sql type)
    references: list[tuple[str, str, str, str]] = []  # (staging column, table, key column, field name)
    soft_references: list[tuple[str, str, str, str]] = []  # unknown values load as NULL links
    keep_unmapped = False
    region_from: list[tuple[str, str, str]] = []  # (staging column, table, key column)
    natural_key = "source_key"  # the column that identifies a row, in the table and in the staging rows

    def prepare(self, parsed: pd.DataFrame, context) -> tuple[pd.DataFrame, list[tuple[int, str, str, str]]]:
        """Staging rows for the valid part of a chunk, plus extra (row position, field, code, message)."""
        raise NotImplementedError

    def duplicates_in_db(self) -> str:
        key = self.natural_key
        return f"DELETE FROM stg s USING {self.table} t WHERE t.{key} = s.{key} RETURNING s.line"

    def insert_staged(self, cursor, columns: list[str]) -> dict:
        """The plain insert: these staging columns into the same columns of the table, skipping known keys."""
        names = ", ".join(columns)
        cursor.execute(
            f"INSERT INTO {self.table} ({names}) SELECT {names} FROM stg ON CONFLICT ({self.natural_key}) DO NOTHING"
        )
        return {"loaded": cursor.rowcount, "cancellations": 0}

    def insert(self, cursor) -> dict:
        raise NotImplementedError


def _text(series: pd.Series) -> pd.Series:
    return series.where(series.notna(), None)


# --- transactions: one row per order line, the shape of most shop exports ---------------------------------
class TransactionLoader(Loader):
    spec = EntitySpec(
        "transactions",
        "Transactions (order lines)",
        (
            Field("invoice", synonyms=("invoiceno", "invoice_no", "order_id", "orderid", "order", "transaction_id")),
            Field("customer", required=True, synonyms=("customerid", "customer_id", "client_id", "user_id")),
            Field(
                "date",
                "datetime",
                required=True,
                synonyms=("invoicedate", "invoice_date", "order_date", "date", "timestamp", "purchase_date"),
            ),
            Field("product", synonyms=("stockcode", "sku", "product_id", "item_id", "article")),
            Field("description", synonyms=("description", "product_name", "item_name", "title")),
            Field("quantity", "int", synonyms=("quantity", "qty", "units")),
            Field("price", "decimal", min=0, synonyms=("unitprice", "unit_price", "price", "item_price")),
            Field("amount", "decimal", synonyms=("amount", "total", "revenue", "sales", "line_total")),
            REGION,
        ),
        key=("invoice", "product", "quantity", "price", "amount", "date", "customer"),
        help="One row per order line. Cancellations (invoice starting with C, negative quantity or amount) are "
        "recorded as cancelled orders.",
    )
    table = "cartportal_orderline"
    analyze_tables = ["cartportal_customer", "cartportal_product", "cartportal_order", "cartportal_orderline"]
    staging = [
        ("line", "int"),
        ("customer", "text"),
        ("region_id", "int"),
        ("placed", "timestamptz"),
        ("invoice", "text"),
        ("sku", "text"),
        ("description", "text"),
        ("quantity", "int"),
        ("unit_price", "numeric"),
        ("amount", "numeric"),
        ("is_cancel", "bool"),
        ("source_key", "text"),
    ]

    def prepare(self, parsed, context):
        extra = []
        has_amount = "amount" in parsed and parsed["amount"].notna()
        has_qty_price = (
            parsed.get("quantity", pd.Series(np.nan, index=parsed.index)).notna()
            & parsed.get("price", pd.Series(np.nan, index=parsed.index)).notna()
        )
        missing = ~(has_qty_price | has_amount) if isinstance(has_amount, pd.Series) else ~has_qty_price
        for pos in np.flatnonzero(missing.to_numpy()):
            extra.append((pos, "quantity", "missing_required", "Needs an amount, or a quantity and a price."))
        quantity = parsed.get("quantity", pd.Series(np.nan, index=parsed.index))
        zero = (quantity == 0).to_numpy()
        for pos in np.flatnonzero(zero):
            extra.append((pos, "quantity", "out_of_range", "Quantity is 0."))
        frame = parsed.copy()
        frame["quantity"] = quantity.fillna(1).astype("int64")
        price = parsed.get("price", pd.Series(np.nan, index=parsed.index))
        amount = parsed.get("amount", pd.Series(np.nan, index=parsed.index))
        frame["amount"] = amount.where(amount.notna(), frame["quantity"] * price).round(2)
        frame["unit_price"] = price.where(price.notna(), (frame["amount"] / frame["quantity"]).abs())
        invoice = _text(parsed.get("invoice", pd.Series(None, index=parsed.index, dtype=object)))
        synthetic = parsed["customer"].astype(str) + "-" + parsed["date"].dt.strftime("%Y%m%d%H%M%S")
        frame["invoice"] = invoice.where(invoice.notna(), synthetic)
        frame["is_cancel"] = (
            frame["invoice"].astype(str).str.upper().str.startswith("C")
            | (frame["quantity"] < 0)
            | (frame["amount"] < 0)
        )
        frame["source_key"] = content_key(
            parsed.assign(invoice=frame["invoice"]), [c for c in self.spec.key if c in parsed] + ["invoice"]
        )
        out = pd.DataFrame(
            {
                "line": context.lines,
                "customer": parsed["customer"],
                "region_id": context.region_ids,
                "placed": parsed["date"],
                "invoice": frame["invoice"],
                "sku": _text(parsed.get("product", pd.Series(None, index=parsed.index, dtype=object))),
                "description": _text(parsed.get("description", pd.Series(None, index=parsed.index, dtype=object))),
                "quantity": frame["quantity"],
                "unit_price": frame["unit_price"].round(4),
                "amount": frame["amount"],
                "is_cancel": frame["is_cancel"],
                "source_key": frame["source_key"],
            }
        )
        return out, extra

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_customer (external_id, region_id, name, email, first_seen, acquisition_source,
                device, age_band, gender, consent_personalisation, consent_marketing)
            SELECT DISTINCT ON (customer) customer, region_id, '', '', placed, '', '', '', '', true, true
            FROM stg ORDER BY customer, placed
            ON CONFLICT (external_id) DO NOTHING""")
        cursor.execute("""
            UPDATE cartportal_customer c SET first_seen = m.first FROM
                (SELECT customer, min(placed) AS first FROM stg GROUP BY customer) m
            WHERE c.external_id = m.customer AND (c.first_seen IS NULL OR c.first_seen > m.first)""")
        cursor.execute("""
            INSERT INTO cartportal_product (sku, name, category, price, house_brand)
            SELECT DISTINCT ON (sku) sku, left(coalesce(description, ''), 300), '', unit_price, false
            FROM stg WHERE sku IS NOT NULL AND NOT is_cancel ORDER BY sku, placed DESC
            ON CONFLICT (sku) DO NOTHING""")
        cursor.execute("""
            INSERT INTO cartportal_order (external_id, customer_id, region_id, placed_at, freight, total, status)
            SELECT DISTINCT ON (s.invoice) s.invoice, c.id, s.region_id, s.placed, 0, 0,
                CASE WHEN s.is_cancel THEN 'cancelled' ELSE 'placed' END
            FROM stg s JOIN cartportal_customer c ON c.external_id = s.customer
            ORDER BY s.invoice, s.placed
            ON CONFLICT (external_id) DO NOTHING""")
        _stage_touched_orders(
            cursor, cancels="o.status = 'cancelled' AND o.external_id IN (SELECT invoice FROM stg WHERE is_cancel)"
        )
        # Line numbers continue after an order's existing lines, looked up once per order before the insert: a
        # lookup inside the INSERT would rescan the table it is filling, once per row, when the statistics
        # (taken while the table was empty) make a sequential scan look free.
        cursor.execute("""
            WITH added AS (
                INSERT INTO cartportal_orderline (order_id, region_id, line_no, product_id, sku, quantity,
                    unit_price, amount, source_key)
                SELECT t.id, s.region_id, t.last_line + row_number() OVER (PARTITION BY s.invoice ORDER BY s.line),
                    p.id, coalesce(s.sku, ''), s.quantity, s.unit_price, s.amount, s.source_key
                FROM stg s JOIN stg_orders t ON t.invoice = s.invoice
                LEFT JOIN cartportal_product p ON p.sku = s.sku
                ON CONFLICT DO NOTHING
                RETURNING source_key)
            SELECT count(*) FILTER (WHERE NOT s.is_cancel), count(*) FILTER (WHERE s.is_cancel)
            FROM added a JOIN stg s ON s.source_key = a.source_key""")
        loaded, cancellations = cursor.fetchone()
        _link_cancellations(cursor)
        # Correlated sums use the order_id index whatever the table statistics say (fresh tables have none).
        cursor.execute("""
            UPDATE cartportal_order o SET total = (SELECT coalesce(sum(l.amount), 0) FROM cartportal_orderline l
                                                   WHERE l.order_id = o.id)
            FROM stg_orders t WHERE o.id = t.id""")
        return {"loaded": loaded, "cancellations": cancellations}


def _stage_touched_orders(cursor, reference: str = "invoice", cancels: str = "false") -> None:
    """The orders a chunk adds lines to (named by the staging column `reference`), with their last line number
    so far (an index lookup per order) and whether they are cancellations of this chunk still to be linked."""
    cursor.execute("DROP TABLE IF EXISTS stg_orders")
    cursor.execute(f"""
        CREATE TEMP TABLE stg_orders ON COMMIT DROP AS
        SELECT o.id, o.external_id AS invoice, o.customer_id, o.placed_at, o.region_id, {cancels} AS cancels,
            coalesce((SELECT l.line_no FROM cartportal_orderline l WHERE l.order_id = o.id
                      ORDER BY l.line_no DESC LIMIT 1), 0) AS last_line
        FROM cartportal_order o WHERE o.external_id IN (SELECT DISTINCT {reference} FROM stg)""")
    cursor.execute("ANALYZE stg_orders")


def _link_cancellations(cursor) -> None:
    """Point each new cancellation at the order it cancels, where that can be told: the invoice without its
    leading C, else the customer's latest earlier order that has a line of a cancelled product.

    Both statements start from the chunk's few cancellations and reach every other row through an index (the
    invoice number; the customer's orders newest first, stopping at the first match), so their plans do not
    depend on how fresh the tables' statistics are."""
    cursor.execute("""
        UPDATE cartportal_order c SET cancels_id = (
            SELECT o.id FROM cartportal_order o WHERE o.external_id = substr(t.invoice, 2) AND o.id <> t.id)
        FROM stg_orders t
        WHERE c.id = t.id AND t.cancels AND c.cancels_id IS NULL
          AND upper(left(t.invoice, 1)) = 'C' AND length(t.invoice) > 1""")
    cursor.execute("""
        WITH cancels AS MATERIALIZED (
            SELECT t.id, t.customer_id, t.placed_at FROM stg_orders t JOIN cartportal_order c ON c.id = t.id
            WHERE t.cancels AND c.cancels_id IS NULL),
        matched AS MATERIALIZED (
            SELECT DISTINCT ON (x.id) x.id AS cancel_id, o.id AS original
            FROM cancels x
            JOIN cartportal_orderline xl ON xl.order_id = x.id AND xl.sku <> ''
            CROSS JOIN LATERAL (
                SELECT o.id, o.placed_at FROM cartportal_order o
                WHERE o.customer_id = x.customer_id AND o.placed_at <= x.placed_at AND o.id <> x.id
                  AND o.status <> 'cancelled'
                  AND EXISTS (SELECT 1 FROM cartportal_orderline ol
                              WHERE ol.order_id = o.id AND ol.sku = xl.sku AND ol.quantity > 0)
                ORDER BY o.placed_at DESC, o.id DESC LIMIT 1) o
            ORDER BY x.id, o.placed_at DESC, o.id DESC)
        UPDATE cartportal_order c SET cancels_id = m.original FROM matched m WHERE c.id = m.cancel_id""")


# --- customers ----------------------------------------------------------------------------------------------
class CustomerLoader(Loader):
    spec = EntitySpec(
        "customers",
        "Customers",
        (
            Field(
                "customer",
                required=True,
                synonyms=("customer_id", "customerid", "id", "client_id", "user_id"),
                max_length=64,
            ),
            Field("name", synonyms=("full_name", "customer_name"), max_length=200),
            Field("email", synonyms=("e_mail", "mail", "email_address"), max_length=254),
            Field("first_seen", "datetime", synonyms=("signup_date", "created_at", "registered", "first_order")),
            Field(
                "acquisition_source", synonyms=("source", "channel", "utm_source", "acquisition_channel"), max_length=64
            ),
            Field("acquisition_cost", "decimal", min=0, synonyms=("cac", "acquisition_cost")),
            Field("device", max_length=32),
            Field("age_band", synonyms=("age_group", "age"), max_length=16),
            Field("gender", synonyms=("sex",), max_length=16),
            Field("consent_personalisation", "bool", synonyms=("consent_personalization", "personalisation")),
            Field("consent_marketing", "bool", synonyms=("marketing_consent", "opt_in", "newsletter")),
            REGION,
        ),
        key=("customer",),
    )
    table = "cartportal_customer"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("region_id", "int"),
        ("name", "text"),
        ("email", "text"),
        ("first_seen", "timestamptz"),
        ("acquisition_source", "text"),
        ("acquisition_cost", "numeric"),
        ("device", "text"),
        ("age_band", "text"),
        ("gender", "text"),
        ("consent_personalisation", "bool"),
        ("consent_marketing", "bool"),
    ]

    def prepare(self, parsed, context):
        def col(name, default=None):
            return parsed[name] if name in parsed else pd.Series(default, index=parsed.index, dtype=object)

        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": parsed["customer"],
                "region_id": context.region_ids,
                "name": col("name").fillna(""),
                "email": col("email").fillna(""),
                "first_seen": col("first_seen"),
                "acquisition_source": col("acquisition_source").fillna(""),
                "acquisition_cost": col("acquisition_cost"),
                "device": col("device").fillna(""),
                "age_band": col("age_band").fillna(""),
                "gender": col("gender").fillna(""),
                "consent_personalisation": col("consent_personalisation").fillna(True),
                "consent_marketing": col("consent_marketing").fillna(True),
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        return self.insert_staged(
            cursor,
            [
                "external_id",
                "region_id",
                "name",
                "email",
                "first_seen",
                "acquisition_source",
                "acquisition_cost",
                "device",
                "age_band",
                "gender",
                "consent_personalisation",
                "consent_marketing",
            ],
        )


# --- products -----------------------------------------------------------------------------------------------
class ProductLoader(Loader):
    spec = EntitySpec(
        "products",
        "Products",
        (
            Field("sku", required=True, synonyms=("product_id", "stockcode", "item_id", "id"), max_length=64),
            Field("name", synonyms=("product_name", "title", "description"), max_length=300),
            Field("category", synonyms=("product_category_name", "category_name", "department"), max_length=120),
            Field("price", "decimal", min=0, synonyms=("unit_price", "list_price")),
            Field("house_brand", "bool", synonyms=("own_brand", "private_label", "is_house_brand")),
        ),
        key=("sku",),
    )
    table = "cartportal_product"
    natural_key = "sku"
    staging = [
        ("line", "int"),
        ("sku", "text"),
        ("name", "text"),
        ("category", "text"),
        ("price", "numeric"),
        ("house_brand", "bool"),
    ]
    needs_region = False

    def prepare(self, parsed, context):
        def col(name, default=None):
            return parsed[name] if name in parsed else pd.Series(default, index=parsed.index, dtype=object)

        out = pd.DataFrame(
            {
                "line": context.lines,
                "sku": parsed["sku"],
                "name": col("name").fillna(""),
                "category": col("category").fillna(""),
                "price": col("price"),
                "house_brand": col("house_brand").fillna(False),
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        return self.insert_staged(cursor, ["sku", "name", "category", "price", "house_brand"])


def _col(parsed: pd.DataFrame, name: str, default=None) -> pd.Series:
    return parsed[name] if name in parsed else pd.Series(default, index=parsed.index, dtype=object)


# --- sessions (one row per visit, page counts and durations by page type) ---------------------------------
BOT_PAGES_PER_SECOND = 2.0
BOT_MIN_PAGES = 30


class SessionLoader(Loader):
    spec = EntitySpec(
        "sessions",
        "Sessions",
        (
            Field("session", synonyms=("session_id", "sessionid", "visit_id", "id"), max_length=64),
            Field("customer", synonyms=("customer_id", "customerid", "user_id")),
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
        session_id = _col(parsed, "session")
        fallback = pd.Series([f"{context.fingerprint}:{line}" for line in context.lines], index=parsed.index)
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": session_id.where(session_id.notna(), fallback),
                "customer": _col(parsed, "customer"),
                "region_id": context.region_ids,
                "started_at": _col(parsed, "started_at"),
            }
        )
        out["month"] = _col(parsed, "month")
        if "started_at" in parsed:
            out["month"] = out["month"].where(out["month"].notna(), parsed["started_at"].dt.month)
        out["weekend"] = _col(parsed, "weekend", False).fillna(False)
        for name in ("device", "operating_system", "browser", "traffic_source", "visitor_type"):
            out[name] = _col(parsed, name, "").fillna("")
        for name in self.numeric:
            out[name] = pd.to_numeric(_col(parsed, name, 0), errors="coerce").fillna(0)
        out["converted"] = _col(parsed, "converted")
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


# --- cart events --------------------------------------------------------------------------------------------
class CartEventLoader(Loader):
    spec = EntitySpec(
        "cart_events",
        "Cart events",
        (
            Field("event_id", synonyms=("id", "eventid"), max_length=40),
            Field("session", synonyms=("session_id", "sessionid", "visit_id")),
            Field("customer", synonyms=("customer_id", "customerid", "user_id")),
            Field("sku", synonyms=("product", "product_id", "stockcode", "item_id")),
            Field("kind", "choice", required=True, choices=EVENT_KINDS, synonyms=("event", "event_type", "action")),
            Field("price", "decimal", min=0, synonyms=("unit_price", "unitprice")),
            Field("quantity", "int", min=1, synonyms=("qty",)),
            Field("occurred_at", "datetime", required=True, synonyms=("timestamp", "time", "event_time", "date")),
            REGION,
        ),
        key=("session", "customer", "sku", "kind", "price", "quantity", "occurred_at"),
        help="add, remove, checkout and purchase events with the price at that moment. The region comes from the "
        "column, the session, the customer, or the import's region.",
    )
    table = "cartportal_cartevent"
    staging = [
        ("line", "int"),
        ("session", "text"),
        ("customer", "text"),
        ("sku", "text"),
        ("kind", "text"),
        ("unit_price", "numeric"),
        ("quantity", "int"),
        ("occurred_at", "timestamptz"),
        ("region_id", "int"),
        ("source_key", "text"),
    ]
    references = [
        ("session", "cartportal_session", "external_id", "session"),
        ("customer", "cartportal_customer", "external_id", "customer"),
        ("sku", "cartportal_product", "sku", "sku"),
    ]
    region_from = [("session", "cartportal_session", "external_id"), ("customer", "cartportal_customer", "external_id")]
    direct = True  # high volume: COPY straight into the table (see pipeline._direct_load)

    @staticmethod
    def direct_rows(staged: pd.DataFrame, ids: dict, region: pd.Series) -> pd.DataFrame:
        def id_of(column):
            return ids[column].map(lambda pair: pair[0] if isinstance(pair, tuple) else None).astype("Int64")

        return pd.DataFrame(
            {
                "session_id": id_of("session").to_numpy(),
                "customer_id": id_of("customer").to_numpy(),
                "region_id": region.astype("Int64").to_numpy(),
                "product_id": id_of("sku").to_numpy(),
                "kind": staged["kind"].to_numpy(),
                "unit_price": staged["unit_price"].to_numpy(),
                "quantity": staged["quantity"].to_numpy(),
                "occurred_at": staged["occurred_at"].to_numpy(),
                "source_key": staged["source_key"].to_numpy(),
            }
        )

    def prepare(self, parsed, context):
        event_id = _col(parsed, "event_id")
        keys = event_id.copy()
        no_id = event_id.isna().to_numpy()
        if no_id.any():  # hash the content only where the export has no event id
            keys[no_id] = content_key(parsed[no_id], [c for c in self.spec.key if c in parsed])
        out = pd.DataFrame(
            {
                "line": context.lines,
                "session": _col(parsed, "session"),
                "customer": _col(parsed, "customer"),
                "sku": _col(parsed, "sku"),
                "kind": parsed["kind"],
                "unit_price": _col(parsed, "price"),
                "quantity": pd.to_numeric(_col(parsed, "quantity", 1), errors="coerce").fillna(1).astype("int64"),
                "occurred_at": parsed["occurred_at"],
                "region_id": context.region_ids,
                "source_key": keys,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_cartevent (session_id, customer_id, region_id, product_id, kind, unit_price,
                quantity, occurred_at, source_key)
            SELECT se.id, c.id, s.region_id, p.id, s.kind, s.unit_price, s.quantity, s.occurred_at, s.source_key
            FROM stg s
            LEFT JOIN cartportal_session se ON se.external_id = s.session
            LEFT JOIN cartportal_customer c ON c.external_id = s.customer
            LEFT JOIN cartportal_product p ON p.sku = s.sku
            ON CONFLICT (source_key) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}


# --- orders (order-level exports with promised and delivered dates, freight) ------------------------------
class OrderLoader(Loader):
    spec = EntitySpec(
        "orders",
        "Orders",
        (
            Field("order", required=True, synonyms=("order_id", "orderid", "invoice", "invoiceno"), max_length=64),
            Field("customer", required=True, synonyms=("customer_id", "customerid")),
            Field("status", "choice", choices=ORDER_STATUSES, synonyms=("order_status",)),
            Field(
                "placed_at",
                "datetime",
                required=True,
                synonyms=("order_purchase_timestamp", "order_date", "purchase_date", "created_at"),
            ),
            Field(
                "promised_at",
                "datetime",
                allow_future=True,
                synonyms=("order_estimated_delivery_date", "estimated_delivery", "promised_date"),
            ),
            Field("shipped_at", "datetime", synonyms=("order_delivered_carrier_date", "shipped_date")),
            Field("delivered_at", "datetime", synonyms=("order_delivered_customer_date", "delivered_date")),
            Field("freight", "decimal", min=0, synonyms=("freight_value", "shipping", "shipping_cost")),
            Field("total", "decimal", synonyms=("order_total", "amount", "payment_value")),
            REGION,
        ),
        key=("order",),
    )
    table = "cartportal_order"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("customer", "text"),
        ("status", "text"),
        ("placed_at", "timestamptz"),
        ("promised_at", "timestamptz"),
        ("shipped_at", "timestamptz"),
        ("delivered_at", "timestamptz"),
        ("freight", "numeric"),
        ("total", "numeric"),
        ("region_id", "int"),
    ]
    references = [("customer", "cartportal_customer", "external_id", "customer")]
    region_from = [("customer", "cartportal_customer", "external_id")]

    def prepare(self, parsed, context):
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": parsed["order"],
                "customer": parsed["customer"],
                "status": _col(parsed, "status", "placed").fillna("placed"),
                "placed_at": parsed["placed_at"],
                "promised_at": _col(parsed, "promised_at"),
                "shipped_at": _col(parsed, "shipped_at"),
                "delivered_at": _col(parsed, "delivered_at"),
                "freight": _col(parsed, "freight", 0).fillna(0),
                "total": _col(parsed, "total", 0).fillna(0),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_order (external_id, customer_id, region_id, status, placed_at, promised_at,
                shipped_at, delivered_at, freight, total)
            SELECT s.external_id, c.id, s.region_id, s.status, s.placed_at, s.promised_at, s.shipped_at,
                s.delivered_at, s.freight, s.total
            FROM stg s JOIN cartportal_customer c ON c.external_id = s.customer
            ON CONFLICT (external_id) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}


class OrderItemLoader(Loader):
    spec = EntitySpec(
        "order_items",
        "Order items",
        (
            Field("order", required=True, synonyms=("order_id", "orderid", "invoice")),
            Field("line_no", "int", min=1, synonyms=("order_item_id", "item_no", "line")),
            Field("sku", synonyms=("product_id", "stockcode", "product")),
            Field("quantity", "int", min=1, synonyms=("qty",)),
            Field("price", "decimal", required=True, min=0, synonyms=("unit_price", "unitprice")),
            Field("freight", "decimal", min=0, synonyms=("freight_value",)),
        ),
        key=("order", "line_no", "sku", "quantity", "price"),
        help="Lines of orders already imported; a line of an unknown order is quarantined.",
    )
    table = "cartportal_orderline"
    staging = [
        ("line", "int"),
        ("order_ref", "text"),
        ("line_no", "int"),
        ("sku", "text"),
        ("quantity", "int"),
        ("unit_price", "numeric"),
        ("freight", "numeric"),
        ("source_key", "text"),
        ("region_id", "int"),
    ]
    references = [("order_ref", "cartportal_order", "external_id", "order")]
    region_from = [("order_ref", "cartportal_order", "external_id")]

    def prepare(self, parsed, context):
        quantity = pd.to_numeric(_col(parsed, "quantity", 1), errors="coerce").fillna(1).astype("int64")
        out = pd.DataFrame(
            {
                "line": context.lines,
                "order_ref": parsed["order"],
                "line_no": pd.to_numeric(_col(parsed, "line_no"), errors="coerce").astype("Int64"),
                "sku": _col(parsed, "sku"),
                "quantity": quantity,
                "unit_price": parsed["price"],
                "freight": _col(parsed, "freight", 0).fillna(0),
                "source_key": content_key(parsed, [c for c in self.spec.key if c in parsed]),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        _stage_touched_orders(cursor, "order_ref")
        cursor.execute("""
            INSERT INTO cartportal_orderline (order_id, region_id, line_no, product_id, sku, quantity, unit_price,
                amount, source_key)
            SELECT o.id, o.region_id,
                coalesce(s.line_no, o.last_line + row_number() OVER (PARTITION BY s.order_ref ORDER BY s.line)),
                p.id, coalesce(s.sku, ''), s.quantity, s.unit_price, round(s.quantity * s.unit_price, 2), s.source_key
            FROM stg s JOIN stg_orders o ON o.invoice = s.order_ref
            LEFT JOIN cartportal_product p ON p.sku = s.sku
            ON CONFLICT DO NOTHING""")
        loaded = cursor.rowcount
        cursor.execute("""
            UPDATE cartportal_order o SET freight = o.freight + f.freight FROM
                (SELECT order_ref, sum(freight) AS freight FROM stg GROUP BY order_ref) f
            WHERE o.external_id = f.order_ref AND f.freight > 0""")
        return {"loaded": loaded, "cancellations": 0}


# --- reviews ------------------------------------------------------------------------------------------------
class ReviewLoader(Loader):
    spec = EntitySpec(
        "reviews",
        "Reviews",
        (
            Field("review_id", synonyms=("id", "reviewid"), max_length=64),
            Field("sku", synonyms=("product_id", "product", "stockcode")),
            Field("customer", synonyms=("customer_id", "customerid")),
            Field("order", synonyms=("order_id", "orderid")),
            Field("rating", "int", min=1, max=5, synonyms=("review_score", "score", "stars")),
            Field("title", synonyms=("review_comment_title", "summary", "headline"), max_length=300),
            Field("text", synonyms=("review_comment_message", "review", "comment", "body", "sentence", "review_text")),
            Field("created_at", "datetime", synonyms=("review_creation_date", "date", "timestamp")),
            Field("language", max_length=8, synonyms=("lang",)),
            Field("sentiment_label", "int", min=0, max=1, synonyms=("label", "sentiment")),
            REGION,
        ),
        key=("review_id", "sku", "customer", "order", "rating", "title", "text", "created_at"),
    )
    table = "cartportal_review"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("sku", "text"),
        ("customer", "text"),
        ("order_ref", "text"),
        ("rating", "int"),
        ("title", "text"),
        ("text", "text"),
        ("created_at", "timestamptz"),
        ("language", "text"),
        ("sentiment_label", "int"),
        ("region_id", "int"),
    ]
    # A review whose product, customer or order is not (yet) known still loads, unlinked: its text matters.
    soft_references = [
        ("sku", "cartportal_product", "sku", "sku"),
        ("customer", "cartportal_customer", "external_id", "customer"),
        ("order_ref", "cartportal_order", "external_id", "order"),
    ]
    region_from = [("order_ref", "cartportal_order", "external_id"), ("customer", "cartportal_customer", "external_id")]

    def prepare(self, parsed, context):
        review_id = _col(parsed, "review_id")
        keys = pd.Series(content_key(parsed, [c for c in self.spec.key if c in parsed]), index=parsed.index)
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": review_id.where(review_id.notna(), keys),
                "sku": _col(parsed, "sku"),
                "customer": _col(parsed, "customer"),
                "order_ref": _col(parsed, "order"),
                "rating": pd.to_numeric(_col(parsed, "rating"), errors="coerce").astype("Int64"),
                "title": _col(parsed, "title", "").fillna(""),
                "text": _col(parsed, "text", "").fillna(""),
                "created_at": _col(parsed, "created_at"),
                "language": _col(parsed, "language", "").fillna(""),
                "sentiment_label": pd.to_numeric(_col(parsed, "sentiment_label"), errors="coerce").astype("Int64"),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""
            INSERT INTO cartportal_review (external_id, product_id, customer_id, order_id, region_id, rating, title,
                text, created_at, language, sentiment_label)
            SELECT s.external_id, p.id, c.id, o.id, s.region_id, s.rating, s.title, s.text, s.created_at,
                s.language, s.sentiment_label
            FROM stg s LEFT JOIN cartportal_product p ON p.sku = s.sku
            LEFT JOIN cartportal_customer c ON c.external_id = s.customer
            LEFT JOIN cartportal_order o ON o.external_id = s.order_ref
            ON CONFLICT (external_id) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}


class SurveyLoader(Loader):
    spec = EntitySpec(
        "survey",
        "Survey responses",
        (
            Field("submitted_at", "datetime", synonyms=("timestamp", "date", "submitted")),
            Field("age", "int", min=10, max=120),
            Field("gender", synonyms=("sex",), max_length=32),
            REGION,
        ),
        help="Every other column is kept as an answer under its own name.",
    )
    table = "cartportal_surveyresponse"
    staging = [
        ("line", "int"),
        ("submitted_at", "timestamptz"),
        ("age", "int"),
        ("gender", "text"),
        ("answers", "jsonb"),
        ("region_id", "int"),
        ("source_key", "text"),
    ]
    keep_unmapped = True

    def prepare(self, parsed, context):
        import json

        answers = context.unmapped.apply(
            lambda row: json.dumps({k: v for k, v in row.items() if v != ""}, ensure_ascii=False), axis=1
        )
        keys = [hashlib.sha1(f"{context.fingerprint}:{line}".encode()).hexdigest() for line in context.lines]
        out = pd.DataFrame(
            {
                "line": context.lines,
                "submitted_at": _col(parsed, "submitted_at"),
                "age": pd.to_numeric(_col(parsed, "age"), errors="coerce").astype("Int64"),
                "gender": _col(parsed, "gender", "").fillna(""),
                "answers": answers.to_numpy(),
                "region_id": context.region_ids,
                "source_key": keys,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        cursor.execute("""INSERT INTO cartportal_surveyresponse (region_id, submitted_at, age, gender, answers,
                              source_key)
                          SELECT region_id, submitted_at, age, gender, answers, source_key FROM stg
                          ON CONFLICT (source_key) DO NOTHING""")
        return {"loaded": cursor.rowcount, "cancellations": 0}


class SellerLoader(Loader):
    spec = EntitySpec(
        "sellers",
        "Sellers",
        (
            Field("seller", required=True, synonyms=("seller_id", "vendor_id", "merchant_id"), max_length=64),
            Field("city", synonyms=("seller_city",), max_length=120),
            Field("postcode_prefix", synonyms=("seller_zip_code_prefix", "zip", "postcode"), max_length=16),
            REGION,
        ),
        key=("seller",),
    )
    table = "cartportal_seller"
    natural_key = "external_id"
    staging = [
        ("line", "int"),
        ("external_id", "text"),
        ("city", "text"),
        ("postcode_prefix", "text"),
        ("region_id", "int"),
    ]

    def prepare(self, parsed, context):
        out = pd.DataFrame(
            {
                "line": context.lines,
                "external_id": parsed["seller"],
                "city": _col(parsed, "city", "").fillna(""),
                "postcode_prefix": _col(parsed, "postcode_prefix", "").fillna(""),
                "region_id": context.region_ids,
            }
        )
        return out, []

    def insert(self, cursor) -> dict:
        return self.insert_staged(cursor, ["external_id", "city", "postcode_prefix", "region_id"])


class PaymentLoader(Loader):
    spec = EntitySpec(
        "payments",
        "Order payments",
        (
            Field("order", required=True, synonyms=("order_id", "orderid", "invoice")),
            Field("sequence", "int", min=1, synonyms=("payment_sequential", "seq")),
            Field("method", synonyms=("payment_type", "payment_method"), max_length=32),
            Field("instalments", "int", min=0, max=120, synonyms=("payment_installments", "installments")),
            Field("value", "decimal", required=True, min=0, synonyms=("payment_value", "amount")),
        ),
        key=("order", "sequence"),
        help="Payments of orders already imported; an order's total becomes the sum of its payments.",
    )
    table = "cartportal_payment"
    staging = [
        ("line", "int"),
        ("order_ref", "text"),
        ("sequence", "int"),
        ("method", "text"),
        ("instalments", "int"),
        ("value", "numeric"),
        ("region_id", "int"),
        ("source_key", "text"),
    ]
    references = [("order_ref", "cartportal_order", "external_id", "order")]
    region_from = [("order_ref", "cartportal_order", "external_id")]

    def prepare(self, parsed, context):
        sequence = pd.to_numeric(_col(parsed, "sequence", 1), errors="coerce").fillna(1).astype("int64")
        out = pd.DataFrame(
            {
                "line": context.lines,
                "order_ref": parsed["order"],
                "sequence": sequence,
                "method": _col(parsed, "method", "").fillna(""),
                "instalments": pd.to_numeric(_col(parsed, "instalments", 1), errors="coerce").fillna(1).astype("int64"),
                "value": parsed["value"],
                "region_id": context.region_ids,
                "source_key": (parsed["order"].astype(str) + ":" + sequence.astype(str)).to_numpy(),
            }
        )
        return out, []

    def duplicates_in_db(self) -> str:
        return (
            "DELETE FROM stg s USING cartportal_payment p JOIN cartportal_order o ON o.id = p.order_id "
            "WHERE o.external_id = s.order_ref AND p.sequence = s.sequence RETURNING s.line"
        )

    def insert(self, cursor) -> dict:
        cursor.execute("""INSERT INTO cartportal_payment (order_id, region_id, sequence, method, instalments, value)
                          SELECT o.id, o.region_id, s.sequence, s.method, s.instalments, s.value
                          FROM stg s JOIN cartportal_order o ON o.external_id = s.order_ref
                          ON CONFLICT DO NOTHING""")
        loaded = cursor.rowcount
        cursor.execute("""UPDATE cartportal_order o SET total = (SELECT coalesce(sum(p.value), 0)
                                                          FROM cartportal_payment p WHERE p.order_id = o.id)
                          WHERE o.external_id IN (SELECT DISTINCT order_ref FROM stg)""")
        return {"loaded": loaded, "cancellations": 0}


LOADERS: dict[str, type[Loader]] = {
    loader.spec.kind: loader
    for loader in (
        TransactionLoader,
        CustomerLoader,
        ProductLoader,
        SessionLoader,
        CartEventLoader,
        OrderLoader,
        OrderItemLoader,
        ReviewLoader,
        SurveyLoader,
        SellerLoader,
        PaymentLoader,
    )
}

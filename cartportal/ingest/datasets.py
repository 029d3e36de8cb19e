"""Loaders for the public data sets the demo and the tests use (see the README's data credits).

Each one is the generic import with a column mapping: nothing here is specific beyond naming columns.
`load_folder(path, actor)` loads whatever of them a folder holds and returns {file: counts}.
"""

from __future__ import annotations

from pathlib import Path

from cartportal import extensions
from cartportal.access import SystemActor

from .pipeline import ImportOptions
from .services import import_run

ONLINE_SHOPPERS = "online_shoppers_intention.csv"
ONLINE_RETAIL = ("online_retail_first70050rows.csv", "online_retail_sample40000.csv")
SURVEY = "amazon_customer_behavior_survey.csv"
SENTENCES = "amazon_cells_labelled.txt"
OLIST = [
    (
        "olist_customers_dataset.csv",
        "customers",
        {"customer": "customer_id", "region": "customer_state"},
        {"region_prefix": "BR-", "currency": "BRL"},
    ),
    (
        "olist_sellers_dataset.csv",
        "sellers",
        {"seller": "seller_id", "region": "seller_state"},
        {"region_prefix": "BR-", "currency": "BRL"},
    ),
    ("olist_products_dataset.csv", "products", {"sku": "product_id", "category": "product_category_name"}, {}),
    ("olist_orders_dataset.csv", "orders", {"order": "order_id", "customer": "customer_id"}, {}),
    (
        "olist_order_items_dataset.csv",
        "order_items",
        {"order": "order_id", "line_no": "order_item_id", "sku": "product_id"},
        {},
    ),
    ("olist_order_payments_dataset.csv", "payments", {"order": "order_id"}, {}),
    (
        "olist_order_reviews_dataset.csv",
        "reviews",
        {"review_id": "review_id", "order": "order_id", "rating": "review_score"},
        {"region": "BR"},
    ),
]
TRANSACTION_MAPPING = {
    "invoice": "InvoiceNo",
    "customer": "CustomerID",
    "date": "InvoiceDate",
    "product": "StockCode",
    "description": "Description",
    "quantity": "Quantity",
    "price": "UnitPrice",
    "region": "Country",
}


def _run(actor, source, **options) -> dict:
    return import_run(actor=actor, source=source, options=ImportOptions(**options)).counts


def load_online_shoppers(path: Path, actor) -> dict:
    """One session per row; its Region 1-9 becomes region OSI-1 ... OSI-9."""
    return _run(
        actor,
        path,
        kind="sessions",
        region_prefix="OSI-",
        filename=path.name,
        mapping={"region": "Region", "converted": "Revenue"},
    )


def load_online_retail(path: Path, actor) -> dict:
    # A UK retailer: its prices are in pounds sterling, whichever country the customer is in.
    return _run(
        actor,
        path,
        kind="transactions",
        mapping=TRANSACTION_MAPPING,
        guess_columns=False,
        filename=path.name,
        currency="GBP",
    )


def load_sentences(path: Path, actor, region: str = "US") -> dict:
    """Labelled review sentences (text TAB label, no header) as reviews with a known sentiment."""
    data = b"text\tsentiment_label\n" + path.read_bytes()
    return _run(
        actor,
        data,
        kind="reviews",
        delimiter="\t",
        region=region,
        filename=path.name,
        mapping={"text": "text", "sentiment_label": "sentiment_label"},
        guess_columns=False,
    )


def load_survey(path: Path, actor, region: str = "US") -> dict:
    return _run(
        actor,
        path,
        kind="survey",
        region=region,
        filename=path.name,
        mapping={"submitted_at": "Timestamp", "age": "age", "gender": "Gender"},
        guess_columns=False,
    )


def load_olist(folder: Path, actor) -> dict:
    out = {}
    for name, kind, mapping, extra in OLIST:
        path = folder / name
        if path.exists():
            out[name] = _run(actor, path, kind=kind, mapping=mapping, filename=name, **extra)
    return out


def load_folder(folder: str | Path, actor=None, *, stdout=None) -> dict:
    """Load every known data set found in `folder` (order matters: customers before their orders)."""
    folder = Path(folder)
    actor = actor or SystemActor("command:load_data")
    results: dict[str, dict] = {}

    def note(name, counts):
        results[name] = counts
        if stdout is not None:
            stdout.write(
                f"  {name}: read {counts.get('read', 0):,}, loaded {counts.get('loaded', 0):,}, "
                f"cancellations {counts.get('cancellations', 0):,}, quarantined "
                f"{counts.get('quarantined', 0):,}, duplicates {counts.get('duplicates', 0):,}"
            )

    if (folder / ONLINE_SHOPPERS).exists():
        note(ONLINE_SHOPPERS, load_online_shoppers(folder / ONLINE_SHOPPERS, actor))
    for name in ONLINE_RETAIL:
        if (folder / name).exists():
            note(name, load_online_retail(folder / name, actor))
    if (folder / SENTENCES).exists():
        note(SENTENCES, load_sentences(folder / SENTENCES, actor))
    if (folder / SURVEY).exists():
        note(SURVEY, load_survey(folder / SURVEY, actor))
    olist = folder / "olist_subset" if (folder / "olist_subset").is_dir() else folder
    for name, counts in load_olist(olist, actor).items():
        note(name, counts)
    for name, loader in extensions.DATASET_LOADERS.items():  # the domains' data sets (e.g. an experiment)
        if (folder / name).exists():
            note(name, loader(folder / name, actor))
    return results

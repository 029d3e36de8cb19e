"""The things a shop can import, their fields, and how their rows reach the database: one module per kind.

Each loader turns a validated chunk into staging rows (with a content key for de-duplication), lists the
reference checks that run against what is already loaded, and moves staging rows into the real tables with
set-based INSERTs. Keys make a re-import add nothing.
"""

from __future__ import annotations

from .base import REGION, Loader, content_key
from .cart_events import EVENT_KINDS, CartEventLoader
from .customers import CustomerLoader
from .orders import ORDER_STATUSES, OrderItemLoader, OrderLoader
from .payments import PaymentLoader
from .products import ProductLoader
from .reviews import ReviewLoader
from .sellers import SellerLoader
from .sessions import MONTHS, SessionLoader
from .survey import SurveyLoader
from .transactions import TransactionLoader

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

__all__ = ["EVENT_KINDS", "LOADERS", "MONTHS", "ORDER_STATUSES", "REGION", "Loader", "content_key"]

from .audit import AuditEvent
from .commerce import (
    CartEvent,
    Customer,
    ErasedCustomer,
    Order,
    OrderLine,
    Payment,
    Product,
    Review,
    Seller,
    Session,
    SurveyResponse,
)
from .ingest import QuarantinedRow
from .jobs import JobRun
from .regions import Region, RegionScopedQuerySet
from .tokens import PartnerToken

__all__ = [
    "AuditEvent",
    "CartEvent",
    "Customer",
    "ErasedCustomer",
    "JobRun",
    "Order",
    "OrderLine",
    "PartnerToken",
    "Payment",
    "Product",
    "QuarantinedRow",
    "Region",
    "RegionScopedQuerySet",
    "Review",
    "Seller",
    "Session",
    "SurveyResponse",
]

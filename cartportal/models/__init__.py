from .audit import AuditEvent
from .commerce import (
    CartEvent,
    Customer,
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
from .preferences import UserPreference
from .regions import Region, RegionScopedQuerySet
from .tokens import PartnerToken

__all__ = [
    "AuditEvent",
    "CartEvent",
    "Customer",
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
    "UserPreference",
]

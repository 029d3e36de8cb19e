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
from .history import CustomerHistory
from .ingest import QuarantinedRow
from .jobs import JobRun
from .kept import KeptResult
from .preferences import UserPreference
from .regions import Region, RegionScopedQuerySet
from .tokens import PartnerToken

__all__ = [
    "AuditEvent",
    "CartEvent",
    "Customer",
    "CustomerHistory",
    "ErasedCustomer",
    "JobRun",
    "KeptResult",
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

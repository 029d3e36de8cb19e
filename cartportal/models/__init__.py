from .audit import AuditEvent
from .commerce import CartEvent, Customer, Order, OrderLine, Product, Review, Session, SurveyResponse
from .ingest import QuarantinedRow
from .jobs import JobRun
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
    "Product",
    "QuarantinedRow",
    "Region",
    "RegionScopedQuerySet",
    "Review",
    "Session",
    "SurveyResponse",
]

"""Commerce data: one shop's customers, products, orders, sessions, cart events and reviews.

Every customer-level row carries its region so that scoping is one indexed filter.
Personal fields (name, e-mail, age band, gender) live on Customer only; erasure blanks them.
"""

from __future__ import annotations

from django.db import models

from .regions import Region, RegionScopedQuerySet


class Customer(models.Model):
    external_id = models.CharField(max_length=64, unique=True, help_text="The shop's own customer id")
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="customers", db_index=False
    )  # the (region, ...) indexes below serve region filters
    name = models.CharField(max_length=200, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    first_seen = models.DateTimeField(null=True, blank=True)
    acquisition_source = models.CharField(max_length=64, blank=True, default="")
    acquisition_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    device = models.CharField(max_length=32, blank=True, default="")
    age_band = models.CharField(max_length=16, blank=True, default="", help_text="Only with consent")
    gender = models.CharField(max_length=16, blank=True, default="", help_text="Only with consent")
    consent_personalisation = models.BooleanField(default=True)
    consent_marketing = models.BooleanField(default=True)
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["region", "external_id"]),
            # Rescoring plans its chunks by walking this index: (region, id) of the customers not erased.
            models.Index(
                fields=["region", "id"], condition=models.Q(erased_at__isnull=True), name="customer_region_live"
            ),
            # Lists page through a region in id order: without it the planner walks the primary key and skips
            # every customer of the regions before (a million rows for a small region listed after a large one).
            models.Index(fields=["region", "id"], name="customer_region_id"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def pseudonym(self) -> str:
        """The id that audit rows and logs use: never a name or an e-mail."""
        return f"customer:{self.pk}"


class ErasedCustomer(models.Model):
    """An erased customer's shop id, remembered only as a keyed hash (cartportal/erasure.py), so that an import of
    the same rows does not create them again."""

    key_hash = models.CharField(max_length=64, unique=True, help_text="HMAC-SHA256 of the shop's customer id")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    erased_at = models.DateTimeField()

    objects = RegionScopedQuerySet.as_manager()


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=300, blank=True, default="")
    category = models.CharField(max_length=120, blank=True, default="")
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    house_brand = models.BooleanField(default=False)
    unit_cost = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="What one unit costs the shop (for margins)"
    )

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return self.sku


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed"
        SHIPPED = "shipped"
        DELIVERED = "delivered"
        CANCELLED = "cancelled"
        RETURNED = "returned"

    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders", null=True, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="orders")
    placed_at = models.DateTimeField(db_index=True)
    promised_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    freight = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLACED)
    cancels = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, help_text="For a cancellation document"
    )

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["region", "placed_at"]), models.Index(fields=["customer", "placed_at"])]

    def __str__(self) -> str:
        return self.external_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    line_no = models.PositiveIntegerField()
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True)
    sku = models.CharField(max_length=64, blank=True, default="")
    quantity = models.IntegerField(help_text="Negative for a cancelled or returned quantity")
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    source_key = models.CharField(
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        help_text="Content hash of the imported row: re-imports add nothing",
    )

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "line_no"], name="orderline_unique_line")]


class Session(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="sessions")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="sessions")
    started_at = models.DateTimeField(null=True, blank=True, db_index=True)
    month = models.PositiveSmallIntegerField(null=True, blank=True)
    weekend = models.BooleanField(default=False)
    special_day = models.FloatField(default=0)
    device = models.CharField(max_length=32, blank=True, default="")
    operating_system = models.CharField(max_length=32, blank=True, default="")
    browser = models.CharField(max_length=32, blank=True, default="")
    traffic_source = models.CharField(max_length=32, blank=True, default="")
    visitor_type = models.CharField(max_length=32, blank=True, default="")
    administrative_pages = models.IntegerField(default=0)
    administrative_duration = models.FloatField(default=0)
    informational_pages = models.IntegerField(default=0)
    informational_duration = models.FloatField(default=0)
    product_pages = models.IntegerField(default=0)
    product_duration = models.FloatField(default=0)
    bounce_rate = models.FloatField(default=0)
    exit_rate = models.FloatField(default=0)
    page_value = models.FloatField(default=0)
    converted = models.BooleanField(null=True, blank=True, help_text="Unknown while the session is live")
    is_bot = models.BooleanField(default=False)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["region", "started_at"]),
            # live sessions (outcome not known yet): few at any time, read first by the Abandonment tab
            models.Index(fields=["started_at"], condition=models.Q(converted__isnull=True), name="session_live"),
        ]


class CartEvent(models.Model):
    class Kind(models.TextChoices):
        ADD = "add"
        REMOVE = "remove"
        CHECKOUT = "checkout"
        PURCHASE = "purchase"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, null=True, blank=True, related_name="cart_events")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    # indexed with the time below: (product, occurred_at) serves product look-ups and a product's recent prices
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    quantity = models.IntegerField(default=1)
    occurred_at = models.DateTimeField()
    source_key = models.CharField(
        max_length=40, unique=True, null=True, blank=True, help_text="Event id or content hash of the imported row"
    )

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["region", "occurred_at"]),
            models.Index(fields=["customer", "occurred_at"]),
            models.Index(fields=["product", "occurred_at"], include=["unit_price"], name="cartevent_product_time"),
        ]


class Review(models.Model):
    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    product = models.ForeignKey(Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="reviews")
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField(blank=True, default="")
    language = models.CharField(max_length=8, blank=True, default="")
    sentiment_label = models.SmallIntegerField(null=True, blank=True, help_text="Known label (1 positive, 0 negative)")
    created_at = models.DateTimeField(null=True, blank=True)

    objects = RegionScopedQuerySet.as_manager()


class SurveyResponse(models.Model):
    """A customer-research survey answer (who our users are, why they abandon)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(null=True, blank=True)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    gender = models.CharField(max_length=32, blank=True, default="")
    answers = models.JSONField(default=dict)
    source_key = models.CharField(max_length=40, unique=True, null=True, blank=True)

    objects = RegionScopedQuerySet.as_manager()


class Seller(models.Model):
    """A marketplace seller (for shops that sell third-party items); products may name one."""

    external_id = models.CharField(max_length=64, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    city = models.CharField(max_length=120, blank=True, default="")
    postcode_prefix = models.CharField(max_length=16, blank=True, default="")

    objects = RegionScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return self.external_id


class Payment(models.Model):
    """A payment towards an order (several per order when split across methods or instalments)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveSmallIntegerField(default=1)
    method = models.CharField(max_length=32, blank=True, default="")
    instalments = models.PositiveSmallIntegerField(default=1)
    value = models.DecimalField(max_digits=14, decimal_places=2)

    objects = RegionScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "sequence"], name="payment_unique_sequence")]

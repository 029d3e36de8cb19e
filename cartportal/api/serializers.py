"""Serializers of the platform endpoints. Personal fields (name, e-mail, age band, gender) are never exposed."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cartportal.models import AuditEvent, Customer, JobRun, Region


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "code", "name", "currency", "timezone"]


class RiskSerializer(serializers.Serializer):
    probability = serializers.FloatField()
    drivers = serializers.ListField(child=serializers.JSONField())
    model_version = serializers.IntegerField(allow_null=True)
    scored_at = serializers.DateTimeField(allow_null=True)


class ValueSerializer(serializers.Serializer):
    expected_spend = serializers.FloatField(allow_null=True)
    p_active = serializers.FloatField(allow_null=True)
    expected_purchases = serializers.FloatField(allow_null=True)
    model_version = serializers.IntegerField(allow_null=True)
    scored_at = serializers.DateTimeField(allow_null=True)
    horizon_days = serializers.IntegerField(allow_null=True, help_text="Days ahead the spend and purchases cover")
    model = serializers.CharField(allow_null=True, help_text="Algorithm of the model version that forecast it")


class CustomerSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    risk = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField()
    segments = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "region",
            "first_seen",
            "acquisition_source",
            "device",
            "consent_marketing",
            "consent_personalisation",
            "erased_at",
            "risk",
            "value",
            "segments",
            "explanation",
        ]
        read_only_fields = fields

    def _insight(self, obj) -> dict:
        return self.context.get("insights", {}).get(obj.pk, {})

    @extend_schema_field(RiskSerializer(allow_null=True))
    def get_risk(self, obj):
        return self._insight(obj).get("risk")

    @extend_schema_field(ValueSerializer(allow_null=True))
    def get_value(self, obj):
        return self._insight(obj).get("value")

    @extend_schema_field(serializers.ListField(child=serializers.JSONField()))
    def get_segments(self, obj):
        return self._insight(obj).get("segments", [])

    def get_explanation(self, obj) -> str:
        return self._insight(obj).get("explanation", "")


_DATETIME = serializers.DateTimeField()
# the customer columns the API shows (CustomerSerializer.Meta.fields without the region and the computed ones)
CUSTOMER_COLUMNS = ("id", "external_id", "first_seen", "acquisition_source", "device")
CUSTOMER_COLUMNS += ("consent_marketing", "consent_personalisation", "erased_at")


def customer_rows(customers, insights: dict) -> list[dict]:
    """What CustomerSerializer gives for each customer (same keys, order and values; a test holds them equal), built
    from `values(*CUSTOMER_COLUMNS, "region__code")` rows: the customer list is a hot partner read and model
    instances and the model serializer cost more than its queries."""
    rows = []
    for c in customers:
        found = insights.get(c["id"], {})
        first_seen, erased_at = c["first_seen"], c["erased_at"]
        rows.append(
            {
                "id": c["id"],
                "external_id": c["external_id"],
                "region": c["region__code"],
                "first_seen": _DATETIME.to_representation(first_seen) if first_seen else None,
                "acquisition_source": c["acquisition_source"],
                "device": c["device"],
                "consent_marketing": c["consent_marketing"],
                "consent_personalisation": c["consent_personalisation"],
                "erased_at": _DATETIME.to_representation(erased_at) if erased_at else None,
                "risk": found.get("risk"),
                "value": found.get("value"),
                "segments": found.get("segments", []),
                "explanation": found.get("explanation", ""),
            }
        )
    return rows


class CustomerRiskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    risk = RiskSerializer(allow_null=True)
    explanation = serializers.CharField()


class ConsentSerializer(serializers.Serializer):
    consent_marketing = serializers.BooleanField(required=False)
    consent_personalisation = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give consent_marketing and/or consent_personalisation.")
        return attrs


class ErasureSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="GDPR erasure request")


class BulkConsentSerializer(ConsentSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000)

    def validate(self, attrs):
        if not ({"consent_marketing", "consent_personalisation"} & set(attrs)):
            raise serializers.ValidationError("Give consent_marketing and/or consent_personalisation.")
        return attrs


class BulkResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class JobSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = JobRun
        fields = [
            "id",
            "kind",
            "region",
            "state",
            "progress",
            "message",
            "counts",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "region_code",
            "before",
            "after",
            "reason",
            "request_id",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class LiveSessionSerializer(serializers.Serializer):
    """A session in progress, shaped like the sessions the abandonment model learnt from."""

    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    administrative_pages = serializers.IntegerField(min_value=0, max_value=100000, default=0)
    administrative_duration = serializers.FloatField(min_value=0, max_value=1e7, default=0)
    informational_pages = serializers.IntegerField(min_value=0, max_value=100000, default=0)
    informational_duration = serializers.FloatField(min_value=0, max_value=1e7, default=0)
    product_pages = serializers.IntegerField(min_value=0, max_value=100000, default=0)
    product_duration = serializers.FloatField(min_value=0, max_value=1e7, default=0)
    bounce_rate = serializers.FloatField(min_value=0, max_value=1, default=0)
    exit_rate = serializers.FloatField(min_value=0, max_value=1, default=0)
    page_value = serializers.FloatField(min_value=0, max_value=1e7, default=0)
    special_day = serializers.FloatField(min_value=0, max_value=1, default=0)
    month = serializers.IntegerField(min_value=1, max_value=12, required=False)
    weekend = serializers.BooleanField(default=False)
    device = serializers.CharField(max_length=32, required=False, allow_blank=True)
    operating_system = serializers.CharField(max_length=32, required=False, allow_blank=True)
    browser = serializers.CharField(max_length=32, required=False, allow_blank=True)
    traffic_source = serializers.CharField(max_length=32, required=False, allow_blank=True)
    visitor_type = serializers.CharField(max_length=32, required=False, allow_blank=True)
    cart_value = serializers.FloatField(min_value=0, max_value=1e9, required=False)
    cart_adds = serializers.IntegerField(min_value=0, max_value=10000, required=False)


class BoughtTogetherSerializer(serializers.Serializer):
    item = serializers.CharField()
    companion = serializers.CharField()
    companion_name = serializers.CharField()
    baskets = serializers.IntegerField()
    support = serializers.FloatField()
    confidence = serializers.FloatField()
    lift = serializers.FloatField()


class LiveCartItemSerializer(serializers.Serializer):
    product_id = serializers.CharField(max_length=64, help_text="The shop's own product id (SKU)")
    price = serializers.FloatField(min_value=0, max_value=1e7, help_text="Unit price now in the cart")
    quantity = serializers.IntegerField(min_value=1, max_value=10000, default=1)


class LiveCartSerializer(serializers.Serializer):
    """An open cart as it stands now: its items, the quoted shipping cost and the session so far."""

    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    items = serializers.ListField(child=LiveCartItemSerializer(), min_length=1, max_length=200)
    shipping_cost = serializers.FloatField(min_value=0, max_value=1e6, required=False, allow_null=True)
    customer_id = serializers.CharField(max_length=64, required=False, allow_blank=True, help_text="External id")
    device = serializers.CharField(max_length=32, required=False, allow_blank=True)
    traffic_source = serializers.CharField(max_length=32, required=False, allow_blank=True)
    started_at = serializers.DateTimeField(required=False, help_text="When the session started")
    minutes_in_session = serializers.FloatField(min_value=0, max_value=1e5, required=False)
    removes = serializers.IntegerField(min_value=0, max_value=1000, default=0, help_text="Items taken out so far")


class LiveCartUnknownSerializer(serializers.Serializer):
    products = serializers.ListField(child=serializers.CharField(), help_text="Product ids not in the catalogue")
    customer = serializers.CharField(allow_null=True, help_text="A customer id not found (or not visible)")


class LiveCartScoreSerializer(serializers.Serializer):
    probability = serializers.FloatField(help_text="Calibrated probability the cart is not bought in the window")
    cart_value = serializers.FloatField()
    expected_loss = serializers.FloatField(help_text="probability x cart value")
    drivers = serializers.ListField(child=serializers.JSONField())
    intervention = serializers.JSONField(allow_null=True)
    unknown = LiveCartUnknownSerializer()
    prediction_point = serializers.CharField()
    bought_together = BoughtTogetherSerializer(many=True, help_text="Products often bought with the cart's products")


class LiveScoreSerializer(serializers.Serializer):
    probability = serializers.FloatField()
    drivers = serializers.ListField(child=serializers.JSONField())

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from cartportal import models


@admin.register(models.Region)
class RegionAdmin(GuardedModelAdmin):
    list_display = ["code", "name", "currency", "timezone"]
    search_fields = ["code", "name"]


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "region", "first_seen", "consent_marketing", "erased_at"]
    list_filter = ["region", "consent_marketing", "consent_personalisation"]
    search_fields = ["external_id"]
    raw_id_fields = []


@admin.register(models.Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "price", "house_brand"]
    list_filter = ["house_brand", "category"]
    search_fields = ["sku", "name"]


class OrderLineInline(admin.TabularInline):
    model = models.OrderLine
    raw_id_fields = ["product"]
    extra = 0


@admin.register(models.Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_id", "region", "customer", "placed_at", "status", "total"]
    list_filter = ["region", "status"]
    search_fields = ["external_id"]
    raw_id_fields = ["customer", "cancels"]
    inlines = [OrderLineInline]


@admin.register(models.Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["external_id", "region", "started_at", "product_pages", "page_value", "converted", "is_bot"]
    list_filter = ["region", "converted", "is_bot", "visitor_type"]
    raw_id_fields = ["customer"]


@admin.register(models.CartEvent)
class CartEventAdmin(admin.ModelAdmin):
    list_display = ["id", "region", "kind", "product", "unit_price", "quantity", "occurred_at"]
    list_filter = ["region", "kind"]
    raw_id_fields = ["session", "customer", "product"]


@admin.register(models.Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "region", "product", "rating", "created_at"]
    list_filter = ["region", "rating"]
    raw_id_fields = ["product", "customer", "order"]


@admin.register(models.SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "region", "age", "gender", "submitted_at"]


@admin.register(models.JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "region", "state", "progress", "created_at"]
    list_filter = ["kind", "state"]


@admin.register(models.QuarantinedRow)
class QuarantinedRowAdmin(admin.ModelAdmin):
    list_display = ["job", "line", "column", "code", "message"]
    list_filter = ["code"]


@admin.register(models.PartnerToken)
class PartnerTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "key_prefix", "created_at", "revoked_at"]
    exclude = ["key_hash"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["id", "occurred_at", "actor", "action", "object_type", "object_id", "region_code"]
    list_filter = ["action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "region", "city"]
    list_filter = ["region"]
    search_fields = ["external_id"]


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["order", "sequence", "method", "instalments", "value"]
    list_filter = ["method", "region"]

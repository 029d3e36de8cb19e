"""This app's REST endpoints, included under /api/v1/ by cartportal/api/urls.py."""

from django.urls import path

from interventions.api.promotions import PromotionListView

urlpatterns: list = [
    path("promotions/", PromotionListView.as_view(), name="api-promotions"),
]

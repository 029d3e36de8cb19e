"""This app's REST endpoints, included under /api/v1/ by cartportal/api/urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from interventions.api.campaigns import CampaignViewSet
from interventions.api.killswitch import KillSwitchView
from interventions.api.promotions import PromotionListView
from interventions.api.simulator import SimulatorView

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="api-campaigns")

urlpatterns = [
    path("promotions/", PromotionListView.as_view(), name="api-promotions"),
    path("kill-switch/", KillSwitchView.as_view(), name="api-kill-switch"),
    path("simulator/", SimulatorView.as_view(), name="api-simulator"),
    *router.urls,
]

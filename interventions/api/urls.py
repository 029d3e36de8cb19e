"""This app's REST endpoints, included under /api/v1/ by cartportal/api/urls.py."""

from rest_framework.routers import SimpleRouter

from interventions.api.campaigns import CampaignViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="api-campaigns")

urlpatterns = router.urls

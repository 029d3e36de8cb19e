"""This app's REST endpoints, included under /api/v1/ by cartportal/api/urls.py."""

from rest_framework.routers import SimpleRouter

from predictions.api.model_versions import ModelVersionViewSet

router = SimpleRouter()
router.register("model-versions", ModelVersionViewSet, basename="api-model-versions")

urlpatterns = router.urls

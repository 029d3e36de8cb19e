from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from cartportal.api import base, views
from cartportal.portal import api as portal_api

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="api-regions")
router.register("customers", portal_api.CustomerViewSet, basename="api-customers")
router.register("jobs", views.JobViewSet, basename="api-jobs")
router.register("audit-events", views.AuditEventViewSet, basename="api-audit-events")

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(
            authentication_classes=[base.PartnerTokenAuthentication, base.PortalSessionAuthentication],
            permission_classes=base.DEFAULT_PERMISSIONS,
            # JSON first, so errors come back as JSON too; ?format=yaml gives YAML.
            renderer_classes=[OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2],
        ),
        name="api-schema",
    ),
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("sessions/score/", portal_api.LiveSessionScoreView.as_view(), name="api-session-score"),
    path("carts/score/", portal_api.LiveCartScoreView.as_view(), name="api-cart-score"),
    path("", include(router.urls)),
    path("", include("segments.api.urls")),
    path("", include("predictions.api.urls")),
    path("", include("interventions.api.urls")),
    path("", include("cartportal.ingest.api")),
]

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cartportal.portal import views as portal_views

# The partner API first: its lookups are the most frequent requests, and every pattern tried before a match costs
# (the portal's pages, included at the root, are many).
urlpatterns = [
    path("api/v1/", include("cartportal.api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", portal_views.healthz, name="healthz"),
    path("", include("cartportal.portal.urls")),
    path("data/", include("cartportal.ingest.urls")),
    path("segments/", include("segments.urls")),
    path("predictions/", include("predictions.urls")),
    path("interventions/", include("interventions.urls")),
]

handler404 = "cartportal.api.base.handler404"  # JSON under /api/, the portal's page elsewhere
handler500 = "cartportal.api.base.handler500"
handler403 = "cartportal.pages.errors.forbidden"
handler400 = "cartportal.pages.errors.bad_request"

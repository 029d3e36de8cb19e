from django.urls import include, path

urlpatterns = [
    path("", include("segments.api.urls")),
    path("", include("predictions.api.urls")),
    path("", include("interventions.api.urls")),
    path("", include("cartportal.ingest.api")),
]

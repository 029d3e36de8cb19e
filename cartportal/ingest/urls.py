from django.urls import path

from . import views

app_name = "ingest"
urlpatterns = [
    path("imports/", views.imports, name="imports"),
    path("imports/<int:job_id>/", views.import_detail, name="import"),
    path("quality/", views.quality, name="quality"),
]

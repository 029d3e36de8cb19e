"""The application's URLs plus `/bench/reference/<id>/`: the floor a partner lookup is measured against."""

from django.urls import path

from bench.api_reference.views import ReferenceCustomerView
from cartportal.urls import handler404, handler500  # noqa: F401
from cartportal.urls import urlpatterns as app_urlpatterns

urlpatterns = [path("bench/reference/<int:pk>/", ReferenceCustomerView.as_view()), *app_urlpatterns]

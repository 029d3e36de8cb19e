"""This app's REST endpoints, included under /api/v1/ by cartportal/api/urls.py."""

from django.urls import path

from segments.api import views

urlpatterns = [
    path("segments/", views.SegmentSummaryView.as_view(), name="api-segments"),
    path("segments/members/", views.SegmentMembersView.as_view(), name="api-segment-members"),
    path("segments/personas/", views.PersonaView.as_view(), name="api-personas"),
    path("segments/audiences/", views.AudienceListView.as_view(), name="api-audiences"),
    path("segments/audiences/<str:pk>/", views.AudienceDetailView.as_view(), name="api-audience"),
]

"""This app's REST endpoints, included under /api/v1/ by cartportal/api/urls.py."""

urlpatterns: list = []

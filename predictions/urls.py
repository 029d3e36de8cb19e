from django.urls import path

from predictions.abandonment import views as abandonment_views

app_name = "predictions"
urlpatterns: list = [
    path("abandonment/", abandonment_views.abandonment, name="abandonment"),
    path("abandonment/sessions/<int:pk>/", abandonment_views.abandonment_session, name="abandonment_session"),
]

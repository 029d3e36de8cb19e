from django.urls import path

from predictions.abandonment import views as abandonment_views

from . import views

app_name = "predictions"
urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/readiness/", views.readiness, name="readiness"),
    path("models/<int:pk>/", views.model_card, name="model"),
    path("models/<int:pk>/activate/", views.model_activate, name="model-activate"),
    path("models/<str:kind>/rollback/", views.model_rollback, name="model-rollback"),
    path("models/<str:kind>/rescore/", views.rescore, name="rescore"),
    path("models/<str:kind>/retrain/", views.retrain, name="retrain"),
    path("clv/", views.clv, name="clv"),
    path("abandonment/", abandonment_views.abandonment, name="abandonment"),
    path("abandonment/sessions/<int:pk>/", abandonment_views.abandonment_session, name="abandonment_session"),
]

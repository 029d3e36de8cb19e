from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("preferences/", views.preferences, name="preferences"),
    path("insights/", views.insights, name="insights"),
    path("executive/", views.executive, name="executive"),
    path("audit/", views.audit_log, name="audit"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
]

from django.urls import path

from segments import views

app_name = "segments"
urlpatterns = [
    path("", views.index, name="index"),
    path("rebuild/", views.rebuild, name="rebuild"),
    path("members/", views.members, name="members"),
    path("personas/", views.personas, name="personas"),
    path("transitions/", views.transitions, name="transitions"),
    path("audiences/", views.audiences, name="audiences"),
    path("audiences/<int:pk>/", views.audience_detail, name="audience"),
]

from django.urls import path

app_name = "segments"
urlpatterns: list = []

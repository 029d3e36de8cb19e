from django.urls import path

from interventions import promotion_views, simulator_views, views
from interventions.winback import views as winback_views

app_name = "interventions"
urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/approve/", views.campaign_approve, name="approve"),
    path("campaigns/<int:pk>/reject/", views.campaign_reject, name="reject"),
    path("approvals/", views.approvals, name="approvals"),
    path("kill-switch/", views.kill_switch, name="kill_switch"),
    path("promotions/", promotion_views.promotions, name="promotions"),
    path("winback/", winback_views.winback, name="winback"),
    path("winback/draft/", winback_views.winback_draft, name="winback_draft"),
    path("promotions/generate/", promotion_views.promotions_generate, name="promotions_generate"),
    path("simulator/", simulator_views.simulator_page, name="simulator"),
]

"""URLs of the videogen app; include them under any prefix in the host site."""

from django.urls import include, path

from videogen.views import OpenRouterWebhookView

app_name = "videogen"

urlpatterns = [
    path("webhooks/openrouter/", OpenRouterWebhookView.as_view(), name="openrouter-webhook"),
    path("api/", include("videogen.api.urls")),
]

"""URLs of the videogen app; include them under any prefix in the host site."""

from django.urls import include, path

from videogen import views
from videogen.views import OpenRouterWebhookView

app_name = "videogen"

urlpatterns = [
    path("webhooks/openrouter/", OpenRouterWebhookView.as_view(), name="openrouter-webhook"),
    path("api/", include("videogen.api.urls")),
    path("", views.workspace_list, name="workspaces"),
    path("token/", views.api_token, name="api-token"),
    path("w/<slug:slug>/", views.workspace_detail, name="workspace"),
    path("w/<slug:slug>/new-video/", views.job_form_part, name="job-form"),
    path("w/<slug:slug>/spend/", views.workspace_spend, name="workspace-spend"),
    path("w/<slug:slug>/jobs/<uuid:public_id>/", views.job_detail, name="job"),
    path("w/<slug:slug>/jobs/<uuid:public_id>/refresh/", views.job_refresh, name="job-refresh"),
    path(
        "w/<slug:slug>/jobs/<uuid:public_id>/outputs/<int:index>/",
        views.job_output,
        name="job-output",
    ),
    path(
        "w/<slug:slug>/jobs/<uuid:public_id>/inputs/<slug:field>/<int:index>/",
        views.job_input,
        name="job-input",
    ),
]

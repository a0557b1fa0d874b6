"""The demo site's URLs: its own login and logout, the admin, and videogen under /videogen/.

``/`` leads a signed-in member to their workspaces (and anyone else to the login first).
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="videogen:workspaces", permanent=False)),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("videogen/", include("videogen.urls")),
]

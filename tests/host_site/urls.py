"""The host site's URLconf: startproject's, plus videogen's URLs as the README says."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("videogen/", include("videogen.urls")),
]

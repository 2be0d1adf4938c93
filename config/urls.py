"""Top-level URL configuration."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve


def serve_media(request, path):
    """Uploaded files, from MEDIA_ROOT as it is at request time (single-host set-ups)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


handler404 = "studyapp.views.errors.page_not_found"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("studyapp.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve_media),
    ]

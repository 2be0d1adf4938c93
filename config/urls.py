"""Top-level URL configuration."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

# Stimulus images are stored under their sha256 (content-addressed), so they never change.
IMMUTABLE = "public, max-age=31536000, immutable"


def serve_media(request, path):
    """Uploaded files, from MEDIA_ROOT as it is at request time (single-host set-ups)."""
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if path.startswith("stimuli/"):
        response["Cache-Control"] = IMMUTABLE
    return response


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("studyapp.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve_media),
    ]

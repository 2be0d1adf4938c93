"""Top-level URL configuration.

There is no catch-all ``/media/`` route: stimulus images have their own checked view
(``studyapp.urls``, "stimulus-image") and every other stored file is private.
"""

from django.contrib import admin
from django.urls import include, path

handler404 = "studyapp.views.errors.page_not_found"
handler500 = "studyapp.views.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("studyapp.urls")),
]

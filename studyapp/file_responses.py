"""Sending a stored file from a view that has checked who may see it.

``FILES_SERVE_MODE`` chooses how: Django streams it ("django"), the web server in front sends
it ("x-accel-redirect" for nginx, "x-sendfile" for Apache/lighttpd), or the browser is sent to
the storage's own URL ("redirect": an object store's signed, short-lived URL).
"""

import mimetypes
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from studyapp.downloads import Download

# Storage alias -> the folder under FILES_INTERNAL_URL that nginx maps to its root.
INTERNAL_FOLDERS = {"default": "private", "stimuli": "public"}


def file_response(
    *,
    name: str,
    storage_alias: str = "default",
    download: Download | None = None,
    cache_control: str = "private, no-store",
) -> HttpResponse:
    """A response that sends stored file ``name`` (404 when the storage lacks it); with
    ``download``, as an attachment with that file name and content type."""
    storage = storages[storage_alias]
    if not name or not storage.exists(name):
        raise Http404("The file is missing from storage.")
    mode = settings.FILES_SERVE_MODE
    filename = download.filename if download else name.rsplit("/")[-1]
    content_type = download.content_type if download else mimetypes.guess_type(name)[0]
    if mode == "redirect":
        response = HttpResponseRedirect(storage.url(name))
    elif mode == "django":
        response = FileResponse(
            storage.open(name, "rb"),
            as_attachment=download is not None,
            filename=filename,
            content_type=content_type,
        )
    else:
        response = HttpResponse(content_type=content_type or "application/octet-stream")
        if mode == "x-accel-redirect":
            internal = f"{settings.FILES_INTERNAL_URL}{INTERNAL_FOLDERS[storage_alias]}/{name}"
            response["X-Accel-Redirect"] = quote(internal)
        else:
            response["X-Sendfile"] = storage.path(name)
        response["Content-Disposition"] = content_disposition_header(download is not None, filename)
    response["Cache-Control"] = cache_control
    return response

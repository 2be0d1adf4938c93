"""The one public file route: stimulus images, while a study that may show them uses them."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from studyapp.file_responses import file_response
from studyapp.permissions import can_view_stimulus_image

# Stored under their sha256, so an image never changes under its name; "private": shared
# caches must not go on serving it once no study shows it any more.
IMMUTABLE = "private, max-age=31536000, immutable"


@require_safe
def stimulus_image(request: HttpRequest, path: str) -> HttpResponse:
    """``/media/stimuli/<path>``: 404 unless a live study, or a study of the visitor, uses it."""
    name = f"stimuli/{path}"
    if not can_view_stimulus_image(request.user, name):
        raise Http404("No such image.")
    return file_response(name=name, storage_alias="stimuli", cache_control=IMMUTABLE)

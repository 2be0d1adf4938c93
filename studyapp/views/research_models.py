"""Registering face models: the form, and the JSON endpoint that reads a chosen weights file.

Choosing a file on the form sends it to `weights_inspect`, which stages it for the researcher
(``services.weights_staging``) and answers what it holds, so the form is filled in; the form
then posts the staged file's token instead of the file. A file posted with the form is
staged when the form has errors, so it need not be chosen again. Uploads larger than
``FACESIM_MAX_WEIGHTS_UPLOAD_BYTES`` are refused from their declared length before the body
is read (CSRF is checked after that check, as in the admin's stimulus import).
"""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from studyapp.payloads import declared_length, declared_size
from studyapp.selectors.compute import model_list
from studyapp.services.weights_staging import staged_discard, staged_weights, weights_stage
from studyapp.storage import local_path

FORM_SLACK_BYTES = 64 * 1024  # the form's other fields around the weights file


def _too_large(request: HttpRequest) -> str | None:
    declared = declared_length(request)
    limit = settings.FACESIM_MAX_WEIGHTS_UPLOAD_BYTES
    if declared > limit + FORM_SLACK_BYTES:
        size = declared_size(declared)
        return f"The upload declares {size}; the limit for weights is {limit:,} bytes."
    return None


@csrf_exempt
@login_required
def models(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and (problem := _too_large(request)):
        return _models_page(request, None, problem=problem, status=413)
    return csrf_protect(_models)(request)


def _models(request: HttpRequest) -> HttpResponse:
    # The model forms import PyTorch (~0.9 GB, ~3 s); importing them here rather than at
    # start-up keeps it out of the web workers that only serve participants.
    from studyapp.forms_compute import FaceModelForm

    form = FaceModelForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                face_model = _register(request, form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Registered {face_model.name}: its weights load.")
                return redirect("research-models")
        _keep_upload(request, form)
    return _models_page(request, form)


def _models_page(request, form, *, problem: str = "", status: int = 200) -> HttpResponse:
    from studyapp.forms_compute import FaceModelForm

    form = form or FaceModelForm()
    token = form["staged_weights"].value() if form.is_bound else ""
    try:
        staged = Path(staged_weights(user=request.user, token=token)).name if token else ""
    except ValueError:
        staged = ""
    context = {"models": model_list(), "form": form, "problem": problem, "staged": staged}
    return render(request, "research/models.html", context, status=status)


def _register(request: HttpRequest, data: dict):
    from studyapp.services.face_models import face_model_register

    options = {
        "name": data["name"],
        "spec": data["spec"],
        "weights_format": data["weights_format"] or None,
        "weights_path": data["weights_path"],
        "pretraining": data["pretraining"],
        "description": data["description"],
        "parent": data["parent"],
        "user": request.user,
    }
    token = data["staged_weights"]
    if data["weights"] is not None or not token or data["weights_path"]:
        return face_model_register(weights_upload=data["weights"], **options)
    try:
        name = staged_weights(user=request.user, token=token)
    except ValueError as error:
        raise ValidationError(str(error)) from error
    with default_storage.open(name) as handle:
        face_model = face_model_register(weights_upload=File(handle, Path(name).name), **options)
    staged_discard(user=request.user, token=token)
    return face_model


def _keep_upload(request: HttpRequest, form) -> None:
    """Stage a posted weights file the form could not use, and point the form at it."""
    upload = request.FILES.get("weights")
    if upload is None or "weights" in form.errors:
        return
    token, _ = weights_stage(user=request.user, upload=upload)
    form.data = form.data.copy()
    form.data["staged_weights"] = token


@csrf_exempt
@login_required
@require_POST
def weights_inspect(request: HttpRequest) -> JsonResponse:
    """POST ``weights``: stage the file and answer its format and the form values it implies."""
    if problem := _too_large(request):
        return _error("too_large", problem, 413)
    return csrf_protect(_inspect)(request)


def _inspect(request: HttpRequest) -> JsonResponse:
    from modelsvc.weights_inspect import inspect_weights
    from studyapp.forms_compute import face_model_initial

    upload = request.FILES.get("weights")
    if upload is None:
        return _error("no_file", "Send the weights file in the field 'weights'.", 400)
    token, name = weights_stage(user=request.user, upload=upload)
    try:
        info = inspect_weights(local_path(name))
    except ValueError as error:
        staged_discard(user=request.user, token=token)
        message = str(error).replace(Path(name).name, upload.name)
        return _error("unreadable_weights", message, 400)
    return JsonResponse(
        {
            "token": token,
            "file_name": Path(name).name,
            "summary": info.summary,
            "val_accuracy": info.val_accuracy,
            "fields": face_model_initial(info),
        }
    )


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)

"""Register a face model: its spec is checked by actually loading the weights (on the CPU).

Nothing is saved when the weights do not fit the architecture; the error lists the missing
and unexpected keys and the shape conflicts (from ``modelsvc``). Errors name an uploaded file
by its own name, never by where the server keeps it. Without a stated format, the format is
detected from the file (``modelsvc.weights_inspect``); a FaceSim checkpoint brings its
finetuning record (validation accuracy) along.
"""

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from modelsvc import ModelSpec, load_model
from modelsvc.weights_inspect import inspect_weights
from studyapp.models import FaceModel
from studyapp.storage import local_path


def check_weights_path(path: str) -> Path:
    """A server-side weights path must lie inside one of ``FACESIM_WEIGHTS_DIRS``."""
    resolved = Path(path).resolve()
    allowed = [Path(d).resolve() for d in settings.FACESIM_WEIGHTS_DIRS]
    if not any(resolved.is_relative_to(d) for d in allowed):
        raise ValueError(
            f"Weights path {path!r} is outside the allowed folders {[str(d) for d in allowed]} "
            "(setting FACESIM_WEIGHTS_DIRS)."
        )
    if not resolved.is_file():
        raise ValueError(f"Weights file {path!r} does not exist.")
    return resolved


def check_spec_loads(spec: ModelSpec) -> None:
    """Load the model on the CPU once: raises with missing/unexpected keys on a mismatch."""
    load_model(spec, "cpu")


def _sha256_of_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def face_model_register(
    *,
    name: str,
    spec: ModelSpec,
    weights_format: str | None = None,
    weights_upload: UploadedFile | None = None,
    weights_path: str = "",
    pretraining: str = FaceModel.Pretraining.OTHER,
    description: str = "",
    parent: FaceModel | None = None,
    user=None,
) -> FaceModel:
    """Store the weights (upload) or point at them (server path), load once, then save the row.

    ``weights_format`` says how to read the file (torchvision, checkpoint, vgg_face_dag,
    dlib_dat; detected when empty); without weights the model is randomly initialised from
    ``spec.seed``.
    """
    if weights_upload is not None and weights_path:
        raise ValidationError("Give either an uploaded weights file or a server path, not both.")
    has_weights = weights_upload is not None or bool(weights_path)
    stored_name = file_path = ""
    try:
        if weights_upload is not None:
            stored_name = default_storage.save(f"weights/{weights_upload.name}", weights_upload)
            file_path = local_path(stored_name)
        elif weights_path:
            file_path = str(check_weights_path(weights_path))
        digest = _sha256_of_file(file_path) if has_weights else None
        training = None
        if has_weights and weights_format in (None, "", "checkpoint"):
            found = inspect_weights(file_path)
            weights_format = weights_format or found.weights_format
            training = found.spec.training if weights_format == found.weights_format else None
        checked = spec.replace(
            name=name,
            weights_path=file_path if has_weights else None,
            weights_format=weights_format if has_weights else None,
            weights_sha256=digest,
            training=training or spec.training,
        )
        check_spec_loads(checked)
        with transaction.atomic():
            return FaceModel.objects.create(
                name=name,
                description=description,
                architecture=checked.architecture,
                pretraining=pretraining,
                task=checked.task or "",
                seed=checked.seed,
                parent=parent,
                weights=stored_name,
                weights_path=weights_path,
                weights_sha256=digest or "",
                spec=checked.to_dict(),
                created_by=user,
            )
    except (ValueError, OSError, IntegrityError) as error:
        if stored_name:
            default_storage.delete(stored_name)
        if isinstance(error, IntegrityError):  # the name was taken since the form checked it
            raise ValidationError(f"A model named {name!r} already exists.") from error
        message = str(error)
        if stored_name:  # the upload is named as the researcher knows it
            for server_name in (file_path, Path(file_path).name):
                message = message.replace(server_name, weights_upload.name)
        raise ValidationError(message) from error
    except BaseException:
        if stored_name:
            default_storage.delete(stored_name)
        raise

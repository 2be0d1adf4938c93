"""Built-in pretrained models (weights shipped in an installed Python package) as FaceModel rows.

The row's description carries the model's provenance and licence from ``modelsvc.builtin``;
the spec points at the package's file with its sha256, and is checked by loading it once.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from modelsvc.builtin import BUILTIN_MODELS, get_builtin
from studyapp.models import FaceModel
from studyapp.services.face_models import check_spec_loads


def builtin_model_register(*, name: str) -> FaceModel:
    """Create or refresh the row of the built-in model `name`; errors name what is missing."""
    try:
        builtin = get_builtin(name)
        spec = builtin.spec()
        check_spec_loads(spec)
    except (ValueError, OSError) as error:
        raise ValidationError(str(error)) from error
    existing = FaceModel.objects.filter(name=name).first()
    if existing is not None and existing.architecture != spec.architecture:
        raise ValidationError(
            f"A model called {name!r} with architecture {existing.architecture!r} already "
            f"exists; rename it to register the built-in {spec.architecture}."
        )
    with transaction.atomic():
        model, _ = FaceModel.objects.update_or_create(
            name=name,
            defaults={
                "description": f"{builtin.provenance}\n\nLicence: {builtin.licence}",
                "architecture": spec.architecture,
                "pretraining": FaceModel.Pretraining(builtin.pretraining),
                "task": "",
                "seed": spec.seed,
                "parent": None,
                "weights": "",
                "weights_path": spec.weights_path,
                "weights_sha256": spec.weights_sha256,
                "spec": spec.to_dict(),
            },
        )
    return model


def builtin_models_register() -> list[FaceModel]:
    """Register every built-in model (`modelsvc.builtin.BUILTIN_MODELS`)."""
    return [builtin_model_register(name=name) for name in BUILTIN_MODELS]

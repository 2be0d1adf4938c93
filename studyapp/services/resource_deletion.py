"""Delete a face model or a stimulus set together with the files that only it used.

Rows go in one transaction and the files once it commits (a rollback keeps them). Stimulus
images and part masks are content-addressed, so another set may use the same file: a file is
deleted only when no remaining stimulus points at it. What is protected stays protected: a set
that a study or a job uses, or a model that a finetuned model was made from, raises
`django.db.models.ProtectedError` and nothing is deleted.
"""

from functools import partial

from django.db import transaction

from studyapp.models import Artifact, AuditEvent, FaceModel, Stimulus, StimulusSet
from studyapp.services.studies import audit_record
from studyapp.storage import files_delete, stimulus_storage


@transaction.atomic
def face_model_delete(*, face_model: FaceModel, user=None) -> None:
    """Delete the model, its artifacts, its stored weights (never a server path's file)."""
    names = [
        face_model.weights.name,
        *Artifact.objects.filter(face_model=face_model).values_list("file", flat=True),
    ]
    audit_record(
        action=AuditEvent.Action.DELETE,
        user=user,
        study=None,
        face_model=face_model.name,
        files=len([n for n in names if n]),
    )
    face_model.delete()
    transaction.on_commit(partial(files_delete, names))


@transaction.atomic
def stimulus_set_delete(*, stimulus_set: StimulusSet, user=None) -> None:
    """Delete the set, its stimuli and artifacts, and the files no other set uses."""
    stimuli = Stimulus.objects.filter(stimulus_set=stimulus_set)
    images = set(stimuli.values_list("image", flat=True))
    masks = set(stimuli.exclude(part_mask="").values_list("part_mask", flat=True))
    artifacts = Artifact.objects.filter(stimulus_set=stimulus_set)
    artifact_files = list(artifacts.values_list("file", flat=True))
    audit_record(
        action=AuditEvent.Action.DELETE,
        user=user,
        study=None,
        stimulus_set=stimulus_set.name,
        stimuli=len(images),
    )
    stimulus_set.delete()
    images -= set(Stimulus.objects.filter(image__in=images).values_list("image", flat=True))
    masks -= set(Stimulus.objects.filter(part_mask__in=masks).values_list("part_mask", flat=True))
    transaction.on_commit(partial(files_delete, [*sorted(masks), *artifact_files]))
    transaction.on_commit(partial(_public_files_delete, sorted(images)))


def _public_files_delete(names: list[str]) -> None:
    storage = stimulus_storage()
    for name in names:
        storage.delete(name)

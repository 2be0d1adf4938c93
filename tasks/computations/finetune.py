"""Finetuning a base model on a labelled stimulus set; the result is a new FaceModel."""

import tempfile
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from modelsvc import (
    FinetuneSettings,
    ModelSpec,
    code_version,
    finetune,
    pick_device,
    save_checkpoint,
)
from modelsvc.architectures import get_architecture
from modelsvc.weights import file_sha256, read_weights
from studyapp.job_parameters import FINETUNE_SETTINGS as SETTING_NAMES
from studyapp.models import Artifact, FaceModel, Job, JobBatch
from studyapp.services.artifacts import artifact_find, artifact_save
from studyapp.services.jobs import job_progress
from tasks.computations.base import BatchOutput, Computation, Plan, batch_file_name, stimulus_ids
from tasks.items import stimulus_items
from tasks.model_cache import model_spec


def finetune_settings(job: Job) -> FinetuneSettings:
    """The job's label column, seed and any overridden hyper-parameters (validated); the split
    seed defaults to the task's (`modelsvc.finetuning.default_split_seed`)."""
    params = job.params
    if "label_column" not in params:
        raise ValueError("A finetune job needs 'label_column' (e.g. 'gender' or 'identity').")
    extra = {name: params[name] for name in SETTING_NAMES if name in params}
    return FinetuneSettings(
        label_column=params["label_column"], seed=int(params.get("seed", 0)), **extra
    )


def base_model(job: Job) -> FaceModel:
    models = list(job.face_models.all())
    if len(models) != 1:
        raise ValueError(f"A finetune job takes exactly one base model; got {len(models)}.")
    return models[0]


def checkpoint_key(job: Job) -> dict:
    """The checkpoint artifact's identity; a base whose children put a head on its output
    (dlib's network) adds the child architecture, so checkpoints made before that (a replaced
    descriptor layer) are not reused for it."""
    settings = finetune_settings(job)
    base = base_model(job)
    params = {name: getattr(settings, name) for name in ("label_column", "seed", *SETTING_NAMES)}
    child_architecture = get_architecture(base.architecture).finetune_as
    if child_architecture is not None:
        params["architecture"] = child_architecture
    return {
        "kind": Artifact.Kind.CHECKPOINT,
        "face_model": base,
        "stimulus_set": job.stimulus_set,
        "method": f"finetune/{settings.label_column}",
        "params": params,
        "code_version": code_version("finetune"),
    }


def child_description(base: FaceModel, job: Job, spec: ModelSpec) -> str:
    """What a finetuned model is, and the base's description (its provenance and licence)."""
    training = spec.training or {}
    settings = training.get("settings", {})
    trained = (
        "every layer"
        if settings.get("train_last") is None
        else f"the last {settings['train_last']} layer(s)"
    )
    text = (
        f"Finetuned from {base.name} ({base.get_pretraining_display()}) for "
        f"{spec.task!r} ({len(spec.class_names)} classes), seed {spec.seed}, on the stimulus "
        f"set {job.stimulus_set.name!r}: a new head, {trained} trained "
        f"({spec.architecture}, {spec.input_size[0]} px input); validation accuracy "
        f"{training.get('val_accuracy')}."
    )
    if base.description:
        text += f"\n\nBase model {base.name}: {base.description}"
    return text


class Finetune(Computation):
    def plan(self, job: Job) -> Plan:
        if artifact_find(**checkpoint_key(job)) is not None:
            return Plan([], 0, reused="This finetuned model already existed; reused it.")
        # Progress counts epochs (early stopping may finish before the last one).
        return Plan(
            [(base_model(job).pk, stimulus_ids(job))], total=finetune_settings(job).max_epochs
        )

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        items = stimulus_items(batch.stimulus_ids)
        result = finetune(
            model_spec(batch.face_model),
            items,
            finetune_settings(job),
            pick_device(),
            progress=False,
            on_epoch=lambda done, _: job_progress(job_id=job.pk, done=done),
        )
        with tempfile.TemporaryDirectory() as folder:
            saved = save_checkpoint(Path(folder) / "model.pt", result.model, result.spec)
            with open(saved.weights_path, "rb") as handle:
                name = default_storage.save(batch_file_name(job, batch, "pt"), File(handle))
            sha = file_sha256(saved.weights_path)
        skipped = (result.spec.training or {}).get("skipped", [])
        return BatchOutput(
            name, sha, [{"stimulus": s["key"], "error": s["error"]} for s in skipped]
        )

    def finalize(self, job: Job) -> str:
        key = checkpoint_key(job)
        if artifact_find(**key) is not None:
            return "This finetuned model already existed; reused it."
        batch = job.batches.get()
        base = base_model(job)
        settings = finetune_settings(job)
        with default_storage.open(batch.result.name, "rb") as handle:
            weights_name = default_storage.save(f"weights/finetuned-{job.pk}.pt", File(handle))
        spec = ModelSpec.from_dict(read_weights(default_storage.path(weights_name))["spec"])
        name = (
            job.params.get("name")
            or f"{base.name} → {settings.label_column} (seed {settings.seed})"
        )
        with transaction.atomic():
            if FaceModel.objects.filter(name=name).exists():
                name = f"{name} [job {job.pk}]"
            child = FaceModel.objects.create(
                name=name,
                description=child_description(base, job, spec),
                architecture=spec.architecture,
                pretraining=base.pretraining,
                task=settings.label_column,
                seed=settings.seed,
                parent=base,
                weights=weights_name,
                weights_sha256=batch.result_sha256,
                spec={
                    **spec.to_dict(),
                    "weights_path": weights_name,
                    "weights_format": "checkpoint",
                    "weights_sha256": batch.result_sha256,
                },
                created_by=job.created_by,
            )
            training = spec.training or {}
            summary = {
                "model": child.pk,
                "model_name": child.name,
                "val_accuracy": training.get("val_accuracy"),
                "val_balanced_accuracy": training.get("val_balanced_accuracy"),
                "best_epoch": training.get("best_epoch"),
                "classes": list(spec.class_names),
            }
            artifact_save(
                **key, file_name=weights_name, sha256=batch.result_sha256, summary=summary, job=job
            )
        return f"Created model {child.name!r} (validation accuracy {summary['val_accuracy']})."

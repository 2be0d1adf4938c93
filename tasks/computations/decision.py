"""Similarity of relevance-masked images: one matrix per model, condition and fraction k.

Each model masks the images with its own relevance maps (and random maps as the baseline);
the embeddings of one layer on the masked images give the matrices that the report compares
with the human similarity as a function of k (decision weighting vs humans).
"""

import numpy as np

from modelsvc import MaskingSettings, code_version, dissimilarity_matrix, map_over_images
from modelsvc.masked_embeddings import CONDITIONS, masked_embeddings
from studyapp.models import Artifact, FaceModel, Job, JobBatch, Stimulus
from studyapp.services.artifacts import artifact_find, artifact_save
from studyapp.storage import read_arrays, read_arrays_cached, store_arrays
from tasks.computations.base import (
    MODEL_BATCH_SIZE,
    BatchOutput,
    Computation,
    Plan,
    batch_file_name,
    batch_progress_reporter,
    chunks,
    dataset_fill_value,
    failure_records,
    stimulus_ids,
)
from tasks.computations.relevance import relevance_artifacts_for
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec

DEFAULTS = {
    "fractions": [0.05, 0.1, 0.2, 0.3, 0.5],
    "conditions": list(CONDITIONS),
    "mode": "keep",
    "fill": "mean",
    "seed": 0,
    "layer": None,
    "pooling": "gap",
    "metric": "correlation",
    "relevance": {},
}


def settings_for(job: Job, face_model: FaceModel) -> dict:
    settings = {**DEFAULTS, **job.params}
    layers = model_spec(face_model).layers
    settings["layer"] = settings["layer"] or (layers[-1] if layers else None)
    if not settings["layer"]:
        raise ValueError(f"Model {face_model.name!r} names no layers; give 'layer' in the job.")
    return settings


def decision_key(job: Job, face_model: FaceModel, relevance: Artifact) -> dict:
    return {
        "kind": Artifact.Kind.MASKED_SIMILARITY,
        "face_model": face_model,
        "stimulus_set": job.stimulus_set,
        "method": f"masked/{settings_for(job, face_model)['mode']}",
        "params": {**settings_for(job, face_model), "relevance_artifact": relevance.pk},
        "code_version": code_version("masking"),
    }


class DecisionWeighting(Computation):
    def plan(self, job: Job) -> Plan:
        artifacts = relevance_artifacts_for(job, {**DEFAULTS, **job.params}["relevance"])
        models = list(job.face_models.order_by("pk"))
        ids = stimulus_ids(job)
        if {**DEFAULTS, **job.params}["fill"] == "mean" and not job.params.get("fill_value"):
            size = model_spec(models[0]).input_size
            job.params = {**job.params, "fill_value": dataset_fill_value(ids, size)}
            job.save(update_fields=["params"])
        todo = [m for m in models if artifact_find(**decision_key(job, m, artifacts[m.pk])) is None]
        if not todo:
            return Plan([], 0, reused="The masked-image matrices already existed; reused them.")
        return Plan([(m.pk, c) for m in todo for c in chunks(ids)], total=len(ids) * len(todo))

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        face_model = batch.face_model
        settings = settings_for(job, face_model)
        spec = model_spec(face_model)
        model = cached_model(spec)
        relevance = relevance_artifacts_for(job, settings["relevance"])[face_model.pk]
        arrays = read_arrays_cached(relevance.file.name, relevance.sha256)
        row_of = {pk: row for row, pk in enumerate(arrays["stimulus_ids"].tolist())}
        items = stimulus_items(batch.stimulus_ids)
        failures = [
            {"stimulus": item.key, "error": "no relevance map"}
            for pk, item in zip(batch.stimulus_ids, items, strict=True)
            if pk not in row_of
        ]
        kept = [
            (pk, item) for pk, item in zip(batch.stimulus_ids, items, strict=True) if pk in row_of
        ]
        maps = arrays["maps"][[row_of[pk] for pk, _ in kept]]
        keys = [item.key for _, item in kept]
        masking = MaskingSettings(
            fractions=tuple(settings["fractions"]),
            mode=settings["mode"],
            fill=settings["fill"],
            fill_value=tuple(settings["fill_value"]) if settings.get("fill_value") else None,
            seed=settings["seed"],
        )

        def compute(images, indices):
            return masked_embeddings(
                model,
                spec,
                images,
                maps[indices],
                [keys[i] for i in indices],
                masking,
                settings["layer"],
                pooling=settings["pooling"],
                conditions=settings["conditions"],
            )

        run = map_over_images(
            [item for _, item in kept],
            spec.input_size,
            compute,
            MODEL_BATCH_SIZE,
            on_progress=batch_progress_reporter(batch),
        )
        loaded = set(run.keys)
        ok = [pk for pk, item in kept if item.key in loaded]
        stored = {f"features:{key}": values.astype(np.float32) for key, values in run.value.items()}
        name, sha = store_arrays(
            batch_file_name(job, batch), {**stored, "stimulus_ids": np.array(ok, dtype=np.int64)}
        )
        return BatchOutput(name, sha, failures + failure_records(run, [item for _, item in kept]))

    def finalize(self, job: Job) -> str:
        relevance = relevance_artifacts_for(job, {**DEFAULTS, **job.params}["relevance"])
        for face_model in job.face_models.order_by("pk"):
            batches = list(job.batches.filter(face_model=face_model).order_by("index"))
            if not batches:
                continue
            parts = [read_arrays(b.result.name, b.result_sha256) for b in batches]
            ids = np.concatenate([p["stimulus_ids"] for p in parts])
            names = dict(Stimulus.objects.filter(pk__in=ids.tolist()).values_list("pk", "name"))
            labels = [names[i] for i in ids.tolist()]
            settings = settings_for(job, face_model)
            matrices = {}
            for key in (k for k in parts[0] if k.startswith("features:")):
                features = np.concatenate([p[key] for p in parts])
                condition_k = key.removeprefix("features:")
                matrices[condition_k] = dissimilarity_matrix(
                    features, labels, metric=settings["metric"]
                ).matrix.astype(np.float32)
            name, sha = store_arrays(
                f"artifacts/masked_similarity/{job.pk}-{face_model.pk}.npz",
                {**matrices, "stimulus_ids": ids, "stimulus_names": np.array(labels)},
            )
            summary = {
                "layer": settings["layer"],
                "metric": settings["metric"],
                "n_stimuli": len(ids),
                "keys": sorted(matrices),
                "failed": [f for b in batches for f in b.failures],
            }
            artifact_save(
                **decision_key(job, face_model, relevance[face_model.pk]),
                file_name=name,
                sha256=sha,
                summary=summary,
                job=job,
            )
        return ""

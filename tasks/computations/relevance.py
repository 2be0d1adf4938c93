"""LRP relevance maps per stimulus (``modelsvc.compute_relevance``)."""

import numpy as np

from modelsvc import class_indices, code_version, compute_relevance, map_over_images
from studyapp.job_parameters import DEFAULT_METHOD, PREDICTED
from studyapp.models import Artifact, FaceModel, Job, JobBatch, StimulusSet
from studyapp.services.artifacts import artifact_find, artifact_save
from studyapp.storage import read_arrays, store_arrays
from tasks.computations.base import (
    MODEL_BATCH_SIZE,
    BatchOutput,
    Computation,
    Plan,
    batch_file_name,
    batch_progress_reporter,
    chunks,
    failure_records,
    stimulus_ids,
)
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec


def settings_for(params: dict, face_model: FaceModel) -> dict:
    """Method, its parameters and the target: a label column, or the predicted class.

    By default the target is the model's own task label.
    """
    target = params.get("target") or (face_model.task or PREDICTED)
    return {
        "method": params.get("method", DEFAULT_METHOD),
        "parameters": params.get("parameters", {}),
        "target": target,
    }


def relevance_key(params: dict, face_model: FaceModel, stimulus_set: StimulusSet) -> dict:
    settings = settings_for(params, face_model)
    return {
        "kind": Artifact.Kind.RELEVANCE,
        "face_model": face_model,
        "stimulus_set": stimulus_set,
        "method": settings["method"],
        "params": settings,
        "code_version": code_version("relevance"),
    }


def target_indices(
    items, class_names: tuple[str, ...], column: str
) -> tuple[np.ndarray, list[dict]]:
    """Class index per item from its label; items whose label the model lacks fail."""
    labels = [item.labels.get(column) for item in items]
    targets = class_indices(labels, class_names)
    failures = [
        {"stimulus": item.key, "error": f"label {column}={label!r} is not a class of the model"}
        for item, label, target in zip(items, labels, targets, strict=True)
        if target < 0
    ]
    return targets, failures


class Relevance(Computation):
    def plan(self, job: Job) -> Plan:
        ids = stimulus_ids(job)
        todo = [
            m
            for m in job.face_models.order_by("pk")
            if artifact_find(**relevance_key(job.params, m, job.stimulus_set)) is None
        ]
        if not todo:
            return Plan([], 0, reused="All relevance maps already existed; reused them.")
        return Plan([(m.pk, c) for m in todo for c in chunks(ids)], total=len(ids) * len(todo))

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        settings = settings_for(job.params, batch.face_model)
        spec = model_spec(batch.face_model)
        model = cached_model(spec)
        items = stimulus_items(batch.stimulus_ids)
        failures: list[dict] = []
        targets = None
        if settings["target"] != PREDICTED:
            targets, failures = target_indices(items, spec.class_names, settings["target"])
            keep = targets >= 0
            items = [item for item, k in zip(items, keep, strict=True) if k]
            batch_ids = [i for i, k in zip(batch.stimulus_ids, keep, strict=True) if k]
            targets = targets[keep]
        else:
            batch_ids = list(batch.stimulus_ids)

        def compute(images, indices):
            result = compute_relevance(
                model,
                spec,
                images,
                method=settings["method"],
                targets=None if targets is None else targets[indices],
                parameters=settings["parameters"],
            )
            return {"maps": result.maps, "logits": result.logits, "targets": result.targets}

        run = (
            map_over_images(
                items,
                spec.input_size,
                compute,
                MODEL_BATCH_SIZE,
                on_progress=batch_progress_reporter(batch),
            )
            if items
            else None
        )
        if run is None:
            arrays = {"stimulus_ids": np.zeros(0, dtype=np.int64)}
        else:
            loaded = set(run.keys)
            ok = [pk for pk, item in zip(batch_ids, items, strict=True) if item.key in loaded]
            arrays = {**run.value, "stimulus_ids": np.array(ok, dtype=np.int64)}
            failures += failure_records(run, items)
        name, sha = store_arrays(batch_file_name(job, batch), arrays)
        return BatchOutput(name, sha, failures)

    def finalize(self, job: Job) -> str:
        notes = []
        for face_model in job.face_models.order_by("pk"):
            batches = list(job.batches.filter(face_model=face_model).order_by("index"))
            if not batches:
                continue
            parts = [read_arrays(b.result.name, b.result_sha256) for b in batches]
            parts = [p for p in parts if len(p["stimulus_ids"])]
            if not parts:
                raise ValueError(f"No stimulus could be explained for model {face_model.name!r}.")
            arrays = {
                k: np.concatenate([p[k] for p in parts])
                for k in ("maps", "logits", "targets", "stimulus_ids")
            }
            failed = [f for b in batches for f in b.failures]
            predicted = arrays["logits"].argmax(axis=1)
            summary = {
                "n_stimuli": len(arrays["stimulus_ids"]),
                "failed": failed,
                "target_is_predicted_fraction": float(np.mean(predicted == arrays["targets"])),
                "positive_relevance_fraction": float(np.mean(arrays["maps"] > 0)),
                "map_shape": list(arrays["maps"].shape[1:]),
            }
            name, sha = store_arrays(f"artifacts/relevance/{job.pk}-{face_model.pk}.npz", arrays)
            artifact_save(
                **relevance_key(job.params, face_model, job.stimulus_set),
                file_name=name,
                sha256=sha,
                summary=summary,
                job=job,
            )
            if failed:
                notes.append(f"{face_model.name}: {len(failed)} stimuli failed")
        return "; ".join(notes)


def relevance_artifacts_for(job: Job, relevance_params: dict) -> dict[int, Artifact]:
    """Each of the job's models' relevance maps (made with ``relevance_params``); all must exist."""
    found, missing = {}, []
    for face_model in job.face_models.order_by("pk"):
        artifact = artifact_find(**relevance_key(relevance_params, face_model, job.stimulus_set))
        if artifact is None:
            missing.append(face_model.name)
        else:
            found[face_model.pk] = artifact
    if missing:
        raise ValueError(f"Relevance maps are missing for {missing}: run a relevance job first.")
    return found

"""Embeddings of named layers and the dissimilarity matrices computed from them."""

import numpy as np

from modelsvc import code_version, dissimilarity_matrix, extract_embeddings, map_over_images
from studyapp.models import Artifact, FaceModel, Job, JobBatch, Stimulus
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

DEFAULTS = {"pooling": "gap", "metrics": ["correlation"], "layers": None}


def settings_for(job: Job, face_model: FaceModel) -> dict:
    params = {**DEFAULTS, **job.params}
    layers = params["layers"] or list(model_spec(face_model).layers)
    if not layers:
        raise ValueError(f"Model {face_model.name!r} names no layers; give 'layers' in the job.")
    return {"layers": layers, "pooling": params["pooling"], "metrics": list(params["metrics"])}


def similarity_key(job: Job, face_model: FaceModel) -> dict:
    settings = settings_for(job, face_model)
    return {
        "kind": Artifact.Kind.SIMILARITY,
        "face_model": face_model,
        "stimulus_set": job.stimulus_set,
        "method": f"embeddings/{settings['pooling']}",
        "params": settings,
        "code_version": code_version("embeddings"),
    }


class Embeddings(Computation):
    def plan(self, job: Job) -> Plan:
        ids = stimulus_ids(job)
        todo = [
            m
            for m in job.face_models.order_by("pk")
            if artifact_find(**similarity_key(job, m)) is None
        ]
        if not todo:
            return Plan([], 0, reused="All similarity matrices already existed; reused them.")
        batches = [(m.pk, chunk) for m in todo for chunk in chunks(ids)]
        return Plan(batches, total=len(ids) * len(todo))

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        face_model = batch.face_model
        settings = settings_for(job, face_model)
        spec = model_spec(face_model)
        model = cached_model(spec)
        items = stimulus_items(batch.stimulus_ids)
        run = map_over_images(
            items,
            spec.input_size,
            lambda images, _: extract_embeddings(
                model, spec, images, settings["layers"], settings["pooling"]
            ),
            MODEL_BATCH_SIZE,
            on_progress=batch_progress_reporter(batch),
        )
        loaded = set(run.keys)
        ok = [batch.stimulus_ids[i] for i, item in enumerate(items) if item.key in loaded]
        arrays = {f"layer:{name}": values.astype(np.float32) for name, values in run.value.items()}
        name, sha = store_arrays(
            batch_file_name(job, batch), {**arrays, "stimulus_ids": np.array(ok)}
        )
        return BatchOutput(name, sha, failure_records(run, items))

    def finalize(self, job: Job) -> str:
        notes = []
        for face_model in job.face_models.order_by("pk"):
            batches = list(job.batches.filter(face_model=face_model).order_by("index"))
            if not batches:
                continue
            key = similarity_key(job, face_model)
            parts = [read_arrays(b.result.name, b.result_sha256) for b in batches]
            ids = np.concatenate([p["stimulus_ids"] for p in parts])
            names = dict(Stimulus.objects.filter(pk__in=ids.tolist()).values_list("pk", "name"))
            labels = [names[i] for i in ids.tolist()]
            features = {
                layer: np.concatenate([p[f"layer:{layer}"] for p in parts])
                for layer in key["params"]["layers"]
            }
            failed = [f for b in batches for f in b.failures]
            self._store_embeddings(job, face_model, key, features, ids, failed)
            matrices, summary = {}, {"n_stimuli": len(ids), "failed": failed, "layers": {}}
            for layer, values in features.items():
                summary["layers"][layer] = {"dimensions": int(values.shape[1])}
                for metric in key["params"]["metrics"]:
                    rdm = dissimilarity_matrix(values, labels, metric=metric, layer=layer)
                    matrices[f"{layer}|{metric}"] = rdm.matrix.astype(np.float32)
            name, sha = store_arrays(
                f"artifacts/similarity/{job.pk}-{face_model.pk}.npz",
                {**matrices, "stimulus_ids": ids, "stimulus_names": np.array(labels)},
            )
            artifact_save(**key, file_name=name, sha256=sha, summary=summary, job=job)
            if failed:
                notes.append(f"{face_model.name}: {len(failed)} stimuli failed")
        return "; ".join(notes)

    @staticmethod
    def _store_embeddings(job, face_model, key, features, ids, failed) -> None:
        """Activations themselves, float16 (see modelsvc.artifacts for the precision)."""
        arrays = {f"layer:{layer}": values.astype(np.float16) for layer, values in features.items()}
        name, sha = store_arrays(
            f"artifacts/embeddings/{job.pk}-{face_model.pk}.npz", {**arrays, "stimulus_ids": ids}
        )
        artifact_save(
            **{**key, "kind": Artifact.Kind.EMBEDDINGS},
            file_name=name,
            sha256=sha,
            summary={"n_stimuli": len(ids), "failed": failed},
            job=job,
        )

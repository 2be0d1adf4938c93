"""Relevance-based masking across models: G[A, B, k] and its summaries (needs relevance maps)."""

import numpy as np

from modelsvc import (
    DEFAULT_FRACTIONS,
    MaskingSettings,
    code_version,
    cross_model_masking,
    load_batch,
    summarise_generalisation,
)
from modelsvc.generalisation import CrossMasking, concatenate_cross_masking
from studyapp.models import Artifact, Job, JobBatch
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
    stimulus_ids,
)
from tasks.computations.relevance import relevance_artifacts_for
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec

DEFAULTS = {
    "fractions": list(DEFAULT_FRACTIONS),
    "mode": "keep",
    "fill": "mean",
    "blur_sigma": None,
    "seed": 0,
    "baselines": ["random"],
    "relevance": {},
}


def settings_for(job: Job) -> dict:
    return {**DEFAULTS, **job.params}


def masking_settings(settings: dict) -> MaskingSettings:
    return MaskingSettings(
        fractions=tuple(settings["fractions"]),
        mode=settings["mode"],
        fill=settings["fill"],
        fill_value=tuple(settings["fill_value"]) if settings.get("fill_value") else None,
        blur_sigma=settings["blur_sigma"],
        seed=settings["seed"],
    )


def relevance_artifacts(job: Job) -> dict[int, Artifact]:
    return relevance_artifacts_for(job, settings_for(job)["relevance"])


def masking_key(job: Job, artifacts: dict[int, Artifact]) -> dict:
    settings = settings_for(job)
    params = {
        **settings,
        "models": sorted(artifacts),
        "relevance_artifacts": [a.pk for a in artifacts.values()],
    }
    return {
        "kind": Artifact.Kind.MASKING,
        "face_model": None,
        "stimulus_set": job.stimulus_set,
        "method": f"generalisation/{settings['mode']}/{settings['fill']}",
        "params": params,
        "code_version": code_version("generalisation"),
    }


def mask_size(specs) -> tuple[int, int]:
    """Where masks are made when models differ in input size: the largest input (by area);
    each model sees the masked images resized to its own (`modelsvc.cross_model_masking`)."""
    return max((tuple(spec.input_size) for spec in specs), key=lambda hw: (hw[0] * hw[1], hw))


class Masking(Computation):
    def plan(self, job: Job) -> Plan:
        artifacts = relevance_artifacts(job)
        specs = {pk: model_spec(m) for pk, m in ((m.pk, m) for m in job.face_models.all())}
        ids = stimulus_ids(job)
        if settings_for(job)["fill"] == "mean" and not job.params.get("fill_value"):
            size = mask_size(specs.values())
            job.params = {**job.params, "fill_value": dataset_fill_value(ids, size)}
            job.save(update_fields=["params"])
        if artifact_find(**masking_key(job, artifacts)) is not None:
            return Plan([], 0, reused="The masking results already existed; reused them.")
        return Plan([(None, chunk) for chunk in chunks(ids)], total=len(ids))

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        settings = settings_for(job)
        artifacts = relevance_artifacts(job)
        face_models = list(job.face_models.order_by("pk"))
        models = {m.name: (cached_model(model_spec(m)), model_spec(m)) for m in face_models}
        items = stimulus_items(batch.stimulus_ids)
        failures, keep = [], []
        maps: dict[str, list] = {m.name: [] for m in face_models}
        targets: dict[str, list] = {m.name: [] for m in face_models}
        rows = {
            m.name: dict(
                zip(
                    arrays["stimulus_ids"].tolist(), range(len(arrays["stimulus_ids"])), strict=True
                )
            )
            for m in face_models
            for arrays in [read_arrays_cached(artifacts[m.pk].file.name, artifacts[m.pk].sha256)]
        }
        for position, (pk, item) in enumerate(zip(batch.stimulus_ids, items, strict=True)):
            lacking = [m.name for m in face_models if pk not in rows[m.name]]
            if lacking:
                failures.append({"stimulus": item.key, "error": f"no relevance map from {lacking}"})
            else:
                keep.append(position)
        loaded = load_batch([items[p].path for p in keep], mask_size(s for _, s in models.values()))
        failures += [
            {"stimulus": items[keep[i]].key, "error": e.reason}
            for i, e in zip(loaded.failed, loaded.errors, strict=True)
        ]
        keep = [keep[i] for i in loaded.loaded]
        for m in face_models:
            arrays = read_arrays_cached(artifacts[m.pk].file.name, artifacts[m.pk].sha256)
            index = [rows[m.name][batch.stimulus_ids[p]] for p in keep]
            maps[m.name], targets[m.name] = arrays["maps"][index], arrays["targets"][index]
        keys = [items[p].key for p in keep]
        report = batch_progress_reporter(batch)
        parts = []
        for start in range(0, len(keep), MODEL_BATCH_SIZE) or [0]:  # one part per model call
            part = slice(start, start + MODEL_BATCH_SIZE)
            parts.append(
                cross_model_masking(
                    models,
                    loaded.images[part],
                    {name: values[part] for name, values in maps.items()},
                    {name: values[part] for name, values in targets.items()},
                    keys[part],
                    masking_settings(settings),
                    baselines=settings["baselines"],
                )
            )
            done = min(start + MODEL_BATCH_SIZE, len(keep))
            report(round(len(batch.stimulus_ids) * done / len(keep)) if keep else 0)
        cross = concatenate_cross_masking(parts)
        arrays = {
            "correct": cross.correct,
            "target_logit": cross.target_logit,
            "unmasked_correct": cross.unmasked_correct,
            "sources": np.array(cross.sources),
            "models": np.array(cross.models),
            "stimulus_ids": np.array([batch.stimulus_ids[p] for p in keep], dtype=np.int64),
        }
        name, sha = store_arrays(batch_file_name(job, batch), arrays)
        return BatchOutput(name, sha, failures)

    def finalize(self, job: Job) -> str:
        artifacts = relevance_artifacts(job)
        settings = settings_for(job)
        batches = list(job.batches.order_by("index"))
        parts = [read_arrays(b.result.name, b.result_sha256) for b in batches]
        cross = concatenate_cross_masking(
            [
                CrossMasking(
                    sources=tuple(p["sources"].tolist()),
                    models=tuple(p["models"].tolist()),
                    correct=p["correct"],
                    target_logit=p["target_logit"],
                    unmasked_correct=p["unmasked_correct"],
                )
                for p in parts
                if len(p["stimulus_ids"])
            ]
        )
        result = summarise_generalisation(cross, settings["fractions"])
        failed = [f for b in batches for f in b.failures]
        summary = {
            **result.record(),
            "accuracy": result.accuracy.tolist(),
            "auc": result.auc.tolist(),
            "asymmetry_auc": result.asymmetry_auc.tolist(),
            "unmasked_accuracy": result.unmasked_accuracy.tolist(),
            "n_stimuli": int(cross.correct.shape[2]),
            "failed": failed,
        }
        arrays = {
            "accuracy": result.accuracy,
            "mean_target_logit": result.mean_target_logit,
            "auc": result.auc,
            "asymmetry": result.asymmetry,
            "asymmetry_auc": result.asymmetry_auc,
            "unmasked_accuracy": result.unmasked_accuracy,
            "fractions": np.array(result.fractions),
            "sources": np.array(result.sources),
            "models": np.array(result.models),
            "correct": cross.correct,
            "unmasked_correct": cross.unmasked_correct,
            "stimulus_ids": np.concatenate([p["stimulus_ids"] for p in parts]),
        }
        name, sha = store_arrays(f"artifacts/masking/{job.pk}.npz", arrays)
        artifact_save(
            **masking_key(job, artifacts), file_name=name, sha256=sha, summary=summary, job=job
        )
        return f"{len(failed)} stimuli failed" if failed else ""

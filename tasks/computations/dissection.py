"""Network dissection: per model, streamed unit counts on the set's Face Dictionary, for the
trained network and a random-weights copy (the baseline), plus the examples a report draws.

One batch per model runs every pass over the whole set (the thresholds need every image: three
radix passes, then one counting pass, per network); its progress moves after every model call,
as the images seen over all passes divided by the number of passes. The batch's file is the
artifact: the layout of ``modelsvc.dissection.dissect_folder`` (``model/<layer>/<field>``,
``random/<layer>/<field>``, ``local/<concept>``, ``global/<concept>``), ``stimulus_ids`` and
``examples/<layer>/...`` (each concept's best-matching units, each with its top images and
thresholded maps).
"""

import numpy as np
import torch

from analysis.dissection_examples import top_units
from modelsvc import code_version
from modelsvc.dissection.activations import dissect_units, randomized_copy
from modelsvc.dissection.examples import fired_masks
from modelsvc.dissection.files import COUNT_FIELDS
from modelsvc.dissection.layers import dissection_layers
from modelsvc.images import ImageLoadError, load_image, normalize
from studyapp.models import Artifact, FaceModel, Job, JobBatch
from studyapp.services.artifacts import artifact_find, artifact_save
from studyapp.services.dissection import dissection_settings, set_dictionary
from studyapp.storage import store_arrays
from tasks.computations.base import (
    MODEL_BATCH_SIZE,
    BatchOutput,
    Computation,
    Plan,
    batch_file_name,
    batch_progress_reporter,
    stimulus_ids,
)
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec

PASSES = 4  # three threshold passes and one counting pass per network


def job_settings(job: Job, face_model: FaceModel) -> dict:
    settings = dissection_settings(stimulus_set=job.stimulus_set, params=job.params)
    try:
        settings["layers"] = dissection_layers(model_spec(face_model), settings["layers"])
    except ValueError as error:
        raise ValueError(f"Model {face_model.name!r}: {error}") from error
    return settings


def dissection_key(job: Job, face_model: FaceModel) -> dict:
    return {
        "kind": Artifact.Kind.DISSECTION,
        "face_model": face_model,
        "stimulus_set": job.stimulus_set,
        "method": "dissection/hierarchical",
        "params": job_settings(job, face_model),
        "code_version": code_version("dissection"),
    }


class Dissection(Computation):
    def plan(self, job: Job) -> Plan:
        models = list(job.face_models.order_by("pk"))
        todo = [m for m in models if artifact_find(**dissection_key(job, m)) is None]
        if not todo:
            return Plan([], 0, reused="The dissection counts already existed; reused them.")
        ids = stimulus_ids(job)
        return Plan([(m.pk, ids) for m in todo], total=len(ids) * len(todo))

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        settings = job_settings(job, batch.face_model)
        built = set_dictionary(stimulus_set=job.stimulus_set, settings=settings)
        if built.stimulus_ids != list(batch.stimulus_ids):
            raise ValueError("The stimulus set changed since the job was planned; run it again.")
        spec = model_spec(batch.face_model)
        model = cached_model(spec)
        networks = {"model": model}
        if settings["baseline_seed"] is not None:
            networks["random"] = randomized_copy(model, seed=settings["baseline_seed"])
        items = stimulus_items(batch.stimulus_ids)
        device = next(model.parameters()).device
        progress = _PassProgress(batch_progress_reporter(batch), PASSES * len(networks))

        def batches():
            for start in range(0, len(items), MODEL_BATCH_SIZE):
                chunk = items[start : start + MODEL_BATCH_SIZE]
                yield normalize(_load(chunk, spec.input_size).to(device), spec)
                progress.add(len(chunk))

        dictionary = built.dictionary
        arrays = {"stimulus_ids": np.array(built.stimulus_ids, dtype=np.int64)}
        for name, network in networks.items():
            counts = dissect_units(
                network,
                layers=settings["layers"],
                batches=batches,
                dictionary=dictionary,
                top_fraction=settings["top_fraction"],
            )
            for layer, layer_counts in counts.items():
                arrays |= {f"{name}/{layer}/{f}": getattr(layer_counts, f) for f in COUNT_FIELDS}
                if name == "model":
                    arrays |= _examples(
                        model, spec, items, dictionary, layer, layer_counts, settings
                    )
        for concept, (_, positives) in dictionary.local.items():
            arrays[f"local/{concept}"] = positives
        for concept, positives in dictionary.global_.items():
            arrays[f"global/{concept}"] = positives
        shown = sorted({int(r) for k, v in arrays.items() if k.endswith("/images") for r in v.flat})
        arrays["examples/rows"] = np.array(shown, dtype=np.int64)
        arrays["examples/pixels"] = (
            (_load([items[r] for r in shown], dictionary.mask_size).permute(0, 2, 3, 1) * 255)
            .round()
            .to(torch.uint8)
            .numpy()
        )
        name, sha = store_arrays(batch_file_name(job, batch), arrays)
        return BatchOutput(name, sha)

    def finalize(self, job: Job) -> str:
        notes = []
        for batch in job.batches.select_related("face_model").order_by("index"):
            settings = job_settings(job, batch.face_model)
            built = set_dictionary(stimulus_set=job.stimulus_set, settings=settings)
            dictionary = built.dictionary
            summary = {
                "model_name": batch.face_model.name,
                "layers": settings["layers"],
                "networks": ["model", "random"]
                if settings["baseline_seed"] is not None
                else ["model"],
                "parts": list(dictionary.parts),
                "local_parts": {c: part for c, (part, _) in dictionary.local.items()},
                "global_concepts": list(dictionary.global_),
                "mask_size": list(dictionary.mask_size),
                "n_stimuli": len(built.stimulus_ids),
                "left_out": built.left_out,
            }
            artifact_save(
                **dissection_key(job, batch.face_model),
                file_name=batch.result.name,
                sha256=batch.result_sha256,
                summary=summary,
                job=job,
            )
            if built.left_out:
                notes.append(f"{batch.face_model.name}: left out {', '.join(built.left_out)}")
        return "; ".join(dict.fromkeys(notes))


class _PassProgress:
    """Images seen over every pass, reported as images done (seen // passes)."""

    def __init__(self, report, passes: int) -> None:
        self.report, self.passes, self.seen = report, passes, 0

    def add(self, images: int) -> None:
        self.seen += images
        self.report(self.seen // self.passes)


def _load(items, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1]; an unreadable image fails the batch (it must match its mask)."""
    try:
        return torch.stack([load_image(item.path, size) for item in items])
    except ImageLoadError as error:
        raise ValueError(f"Cannot dissect stimulus image: {error}") from error


def _examples(model, spec, items, dictionary, layer, counts, settings) -> dict[str, np.ndarray]:
    """Each concept's best units, their top images (rows) and thresholded maps on them."""
    top = top_units(
        counts,
        dictionary,
        units_per_concept=settings["units_per_concept"],
        images_per_unit=settings["examples"],
    )
    rows = np.array(top["images"].tolist(), dtype=np.int64)  # (concepts x units, images)
    units = np.repeat(top["unit"].to_numpy(), rows.shape[1])
    device = next(model.parameters()).device
    masks = []
    for start in range(0, rows.size, MODEL_BATCH_SIZE):
        flat = rows.reshape(-1)[start : start + MODEL_BATCH_SIZE]
        images = normalize(_load([items[r] for r in flat], spec.input_size).to(device), spec)
        masks.append(
            fired_masks(
                model,
                layer=layer,
                images=images,
                units=units[start : start + MODEL_BATCH_SIZE],
                thresholds=counts.threshold,
                mask_size=dictionary.mask_size,
            )
        )
    prefix = f"examples/{layer}"
    return {
        f"{prefix}/levels": top["level"].to_numpy(str),
        f"{prefix}/concepts": top["concept"].to_numpy(str),
        f"{prefix}/units": top["unit"].to_numpy(np.int64),
        f"{prefix}/scores": top["score"].to_numpy(np.float64),
        f"{prefix}/images": rows,
        f"{prefix}/masks": np.concatenate(masks).reshape(*rows.shape, *dictionary.mask_size),
    }

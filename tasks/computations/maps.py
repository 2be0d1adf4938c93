"""Relevance maps compared across models, as a job of its own (no study needed).

The newest relevance artifact of each of the job's models on its stimulus set (one method for
all) is read on the stimuli every model explained; ``analysis.map_comparison.compare_maps``
gives the per-pair agreement (Spearman, top-k IoU, image-bootstrap intervals), the agreement
grouped by the models' pretraining, task and seed ("only <factor>" pairs), the consensus of
all models and of each pretraining, and, when the set has part masks, the consensus per face
part.  The artifact is a zip of those tables (CSV) and the consensus figure, the same numbers
as the replication section of a study's report on the same maps.
"""

import json
import tempfile
from pathlib import Path

import pandas as pd

from analysis.map_comparison import MapComparison, compare_maps
from analysis.replication import ORDER
from analysis.report.replication_figures import consensus_maps
from modelsvc import code_version
from studyapp.map_comparison import map_comparison_settings
from studyapp.models import Artifact, Job, JobBatch
from studyapp.services.artifacts import artifact_find, artifact_save
from studyapp.storage import store_file
from tasks.computations.base import (
    BatchOutput,
    Computation,
    Plan,
    batch_file_name,
    zip_folder,
    zipped_json,
)
from tasks.computations.report import model_attributes, newest, relevance_maps

SUMMARY = "summary.json"


def maps_artifacts(job: Job) -> dict:
    """The job's models with their newest relevance artifacts on its set, checked: at least two
    models, each with relevance maps, all of one method."""
    face_models = list(job.face_models.order_by("pk"))
    if len(face_models) < 2:
        raise ValueError("Comparing relevance maps needs at least two models.")
    relevance = {m.pk: newest(Artifact.Kind.RELEVANCE, job, face_model=m) for m in face_models}
    missing = [m.name for m in face_models if relevance[m.pk] is None]
    if missing:
        raise ValueError(
            f"No relevance maps on this stimulus set for {missing}: run a relevance job first."
        )
    methods = {m.name: relevance[m.pk].method for m in face_models}
    if len(set(methods.values())) > 1:
        raise ValueError(f"The models' newest relevance maps use different methods: {methods}.")
    return {"models": face_models, "relevance": relevance, "stimulus_set": job.stimulus_set}


def maps_key(job: Job, artifacts: dict) -> dict:
    models = artifacts["models"]
    return {
        "kind": Artifact.Kind.MAP_COMPARISON,
        "face_model": None,
        "stimulus_set": job.stimulus_set,
        "method": f"maps/{artifacts['relevance'][models[0].pk].method}",
        "params": {
            **map_comparison_settings(job.params),
            "models": [m.pk for m in models],
            "relevance_artifacts": [artifacts["relevance"][m.pk].pk for m in models],
        },
        "code_version": code_version("comparison"),
    }


class MapComparisonJob(Computation):
    def plan(self, job: Job) -> Plan:
        if artifact_find(**maps_key(job, maps_artifacts(job))) is not None:
            return Plan([], 0, reused="The same maps were compared before; reused the result.")
        return Plan([(None, [])], total=1)

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        artifacts = maps_artifacts(job)
        settings = map_comparison_settings(job.params)
        inputs = relevance_maps(artifacts)
        if not inputs:
            raise ValueError("The models' relevance maps share no stimulus.")
        info = pd.DataFrame(model_attributes(m) for m in artifacts["models"])
        compared = compare_maps(
            dict(inputs["relevance"]),
            info,
            ORDER,
            part_masks=inputs.get("part_masks"),
            part_labels=inputs.get("part_labels"),
            top_fraction=settings["top_fraction"],
            n_boot=settings["n_boot"],
            random_state=settings["seed"],
        )
        summary = {
            "models": [m.name for m in artifacts["models"]],
            "n_images": len(inputs["image_ids"]),
            "consensus_share": compared.consensus_share.to_dict("records"),
        }
        archive = _archive(compared, inputs, summary)
        name, sha = store_file(batch_file_name(job, batch, "zip"), archive)
        return BatchOutput(name, sha)

    def finalize(self, job: Job) -> str:
        batch = job.batches.get()
        summary = zipped_json(batch, SUMMARY)
        artifact_save(
            **maps_key(job, maps_artifacts(job)),
            file_name=batch.result.name,
            sha256=batch.result_sha256,
            summary=summary,
            job=job,
        )
        return f"{len(summary['models'])} models compared on {summary['n_images']} images."


def _archive(compared: MapComparison, inputs: dict, summary: dict) -> bytes:
    """tables/*.csv, figures/consensus_maps.png and summary.json, zipped."""
    tables = {
        "map_agreement_pairs": compared.pairs,
        "map_agreement_by_factor": compared.relations,
        "consensus_size": compared.consensus_share,
        "consensus_parts": compared.consensus_parts,
    }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "tables").mkdir()
        for name, table in tables.items():
            if table is not None:
                table.to_csv(root / "tables" / f"{name}.csv", index=False)
        figure = consensus_maps(compared.consensus, inputs["images"])
        if figure is not None:
            (root / "figures").mkdir()
            path = root / "figures" / "consensus_maps.png"
            figure.savefig(path, dpi=110, metadata={"Software": None})
        (root / SUMMARY).write_text(json.dumps(summary, indent=2, default=str))
        return zip_folder(root)

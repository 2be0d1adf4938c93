"""The study's correlation report: human data + model artifacts -> ``analysis`` -> HTML/PDF.

Inputs are the response export (as researchers download it), the participant attributes
(questionnaire answers, attached columns) and the stimulus set's label columns for the group
analyses, and, for each of the study's models, the newest similarity, masked-similarity,
relevance and masking artifacts over the study's stimulus set; the relevance sanity checks of
those models are computed here (``tasks.computations.sanity``). The report is a zip of
``analysis.report.write_report``'s folder; its artifact key includes the digests of the
responses and attributes, so new data gives a new report.
"""

import dataclasses
import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from PIL import Image

from analysis import (
    AnalysisParameters,
    RelevanceInputs,
    SimilarityMatrix,
    analyse_study,
    generalisation_table,
)
from analysis.bubbles import BubblesDesign
from analysis.bubbles.responses import ALL
from analysis.generalisation_inference import CrossCorrect
from analysis.io import read_responses_dropping_bad_rows
from analysis.report import ReportMeta, write_report
from analysis.report.screening_text import ScreeningRules
from analysis.study_analysis import BubblesInputs
from studyapp.bubbles import bubbles_settings
from studyapp.dissection_figures import dissection_inputs
from studyapp.models import Artifact, FaceModel, Job, JobBatch, ParticipantAttribute, Study
from studyapp.selectors.exports import attributes_csv_chunks, responses_csv_chunks
from studyapp.selectors.studies import screened_out_counts
from studyapp.services.artifacts import artifact_find, artifact_save
from studyapp.storage import read_arrays, store_file
from tasks.computations.base import (
    BatchOutput,
    Computation,
    Plan,
    batch_file_name,
    zip_folder,
    zipped_json,
)
from tasks.computations.model_bubbles import model_answers
from tasks.computations.sanity import SETTINGS as SANITY_SETTINGS
from tasks.computations.sanity import study_sanity

METRIC = "correlation"
INPUTS = "inputs.json"  # what went in: responses digest, artifacts, parameters
SUMMARY = "summary.json"  # the headline numbers, also stored on the artifact
# 2: relevance part mass and overlays per model; 3: summary first, study title, dashboard link,
# participant and stimulus groups; 4: the replication section (per-image masking outcomes, map
# comparison across models); 5: decision weighting from Bubbles trials; 6: Bubbles part shares,
# relevance sanity checks
REPORT_VERSION = "analysis-report-6"
OVERLAY_IMAGES = 8  # stimuli shown with every model's relevance map in the report


def newest(kind: str, job: Job, **filters) -> Artifact | None:
    return (
        Artifact.objects.filter(kind=kind, stimulus_set=job.stimulus_set, **filters)
        .order_by("-created_at")
        .first()
    )


def input_artifacts(job: Job) -> dict:
    """The newest model-side artifacts of the study's models over its stimulus set."""
    face_models = list(job.study.face_models.order_by("pk"))
    return {
        "models": face_models,
        "similarity": {
            m.pk: newest(Artifact.Kind.SIMILARITY, job, face_model=m) for m in face_models
        },
        "masked": {
            m.pk: newest(Artifact.Kind.MASKED_SIMILARITY, job, face_model=m) for m in face_models
        },
        "masking": newest(
            Artifact.Kind.MASKING, job, face_model=None, params__models=[m.pk for m in face_models]
        ),
        "relevance": {
            m.pk: newest(Artifact.Kind.RELEVANCE, job, face_model=m) for m in face_models
        },
        "dissection": {
            m.pk: newest(Artifact.Kind.DISSECTION, job, face_model=m) for m in face_models
        },
        "stimulus_set": job.stimulus_set,
    }


def used_artifact_ids(artifacts: dict) -> list[int]:
    found = [
        *artifacts["similarity"].values(),
        *artifacts["masked"].values(),
        *artifacts["relevance"].values(),
        *artifacts["dissection"].values(),
        artifacts["masking"],
    ]
    return sorted(a.pk for a in found if a is not None)


def screening_rules(study: Study) -> ScreeningRules:
    """The study's screening, for the methods text, with its screened-out sessions."""
    return ScreeningRules(
        min_width=study.min_viewport_width,
        min_height=study.min_viewport_height,
        desktop_only=study.device_requirement == Study.DeviceRequirement.DESKTOP,
        questions=len(study.comprehension_questions),
        attempts=study.comprehension_attempts,
        screened_out=screened_out_counts(study=study),
    )


def report_inputs(job: Job, csv: bytes, artifacts: dict) -> dict:
    """What a report is made from; part of its artifact key (new responses or attributes ->
    new report).

    Sessions screened out give no responses: their counts are part of the key too.
    """
    attributes = b"".join(attributes_csv_chunks(study=job.study))
    return {
        "study": job.study.slug,
        "title": job.study.title,
        "screening": dataclasses.asdict(screening_rules(job.study)),
        "responses_sha256": hashlib.sha256(csv).hexdigest(),
        "attributes_sha256": hashlib.sha256(attributes).hexdigest(),
        "artifacts": used_artifact_ids(artifacts),
        "parameters": AnalysisParameters.from_dict(job.params).as_dict(),
        "sanity": SANITY_SETTINGS,
    }


def report_key(job: Job, inputs: dict) -> dict:
    """A report belongs to its study (not its slug): it is deleted with the study."""
    return {
        "study": job.study,
        "kind": Artifact.Kind.REPORT,
        "face_model": None,
        "stimulus_set": job.stimulus_set,
        "method": "report",
        "params": inputs,
        "code_version": REPORT_VERSION,
    }


def model_attributes(face_model: FaceModel) -> dict:
    """The model's name and the attributes the analysis groups models by."""
    return {
        "model": face_model.name,
        "pretraining": face_model.pretraining,
        "task": face_model.task or "none",
        "seed": face_model.seed,
    }


def model_inputs(artifacts: dict) -> tuple[dict[str, SimilarityMatrix], RelevanceInputs]:
    """Matrices per model/layer and the relevance experiments, read from the artifacts."""
    models, masked = {}, {}
    info = [model_attributes(face_model) for face_model in artifacts["models"]]
    for face_model in artifacts["models"]:
        similarity = artifacts["similarity"][face_model.pk]
        if similarity is not None:
            arrays = read_arrays(similarity.file.name, similarity.sha256)
            names = tuple(arrays["stimulus_names"].tolist())
            for key in arrays:
                if key.endswith(f"|{METRIC}"):
                    layer = key.removesuffix(f"|{METRIC}")
                    models[f"{face_model.name}/{layer}"] = SimilarityMatrix(
                        arrays[key].astype(float),
                        names,
                        measure="1 - Pearson",
                        name=f"{face_model.name}/{layer}",
                    )
        decision = artifacts["masked"][face_model.pk]
        if decision is not None:
            arrays = read_arrays(decision.file.name, decision.sha256)
            names = tuple(arrays["stimulus_names"].tolist())
            label = f"{face_model.name}/{decision.summary['layer']}"
            for key in decision.summary["keys"]:
                condition, fraction = key.split("|")
                masked[(label, condition, float(fraction))] = SimilarityMatrix(
                    arrays[key].astype(float), names
                )
    masking = artifacts["masking"]
    relevance = RelevanceInputs(
        masked_models=masked or None,
        generalisation=generalisation_table(
            masking.summary["accuracy"],
            masking.summary["sources"],
            masking.summary["models"],
            masking.summary["fractions"],
        )
        if masking is not None
        else None,
        model_info=pd.DataFrame(info) if info else None,
        cross_masking=cross_masking(masking) if masking is not None else None,
        **relevance_maps(artifacts),
    )
    return models, relevance


def cross_masking(masking: Artifact) -> CrossCorrect:
    """The masking artifact's per-image outcomes for the replication section's image
    bootstrap (unmasked correctness is absent from artifacts made before it was stored)."""
    arrays = read_arrays(masking.file.name, masking.sha256)
    return CrossCorrect(
        correct=arrays["correct"],
        sources=tuple(arrays["sources"].tolist()),
        models=tuple(arrays["models"].tolist()),
        fractions=tuple(arrays["fractions"].tolist()),
        mode=masking.params.get("mode", "keep"),
        unmasked_correct=arrays.get("unmasked_correct"),
    )


def relevance_maps(artifacts: dict) -> dict:
    """Each model's relevance maps on the stimuli all models explained, with the part masks
    (when the set has them) and the first images for overlays; {} without relevance.

    Masks and images are resized to the maps' size the way modelsvc resizes the images (a
    plain resize, nearest-neighbour for the label maps), so pixels line up. Models with
    another input size have their maps resized to the first model's (box filter). The maps
    are read model by model when asked for (`ModelMaps`).
    """
    stored = {
        m.name: a for m in artifacts["models"] if (a := artifacts["relevance"][m.pk]) is not None
    }
    if not stored:
        return {}
    ids, shapes = {}, {}
    for name, artifact in stored.items():
        arrays = read_arrays(artifact.file.name, artifact.sha256)
        ids[name], shapes[name] = arrays["stimulus_ids"].tolist(), arrays["maps"].shape[1:]
        del arrays  # one model's maps in memory at a time
    common = set.intersection(*(set(i) for i in ids.values()))
    stimuli = list(artifacts["stimulus_set"].stimuli.filter(pk__in=common).order_by("pk"))
    if not stimuli:
        return {}
    height, width = next(iter(shapes.values()))
    maps = ModelMaps(stored, ids, [s.pk for s in stimuli], (width, height))
    images = np.stack([_resized(s.image, (width, height), "L") for s in stimuli[:OVERLAY_IMAGES]])
    inputs = {"relevance": maps, "images": images, "image_ids": [s.name for s in stimuli]}
    part_names = artifacts["stimulus_set"].part_names
    if part_names and all(s.part_mask for s in stimuli):
        inputs["part_masks"] = np.stack(
            [_resized(s.part_mask, (width, height), None) for s in stimuli]
        ).astype(np.int64)
        inputs["part_labels"] = dict(enumerate(part_names))
    return inputs


class ModelMaps(Mapping):
    """Model name -> its relevance maps (N, H, W) on `stimulus_pks`, at `size` (width,
    height), read from the model's artifact each time they are asked for.  A report touches
    each model's maps twice (part mass, overlays); holding all of them would take 200 MB per
    model for 1,000 faces at 224 px."""

    def __init__(self, artifacts: dict, ids: dict, stimulus_pks: list[int], size) -> None:
        self._artifacts, self._ids, self._pks, self._size = artifacts, ids, stimulus_pks, size

    def __getitem__(self, name: str) -> np.ndarray:
        artifact = self._artifacts[name]
        maps = read_arrays(artifact.file.name, artifact.sha256)["maps"]
        row_of = {pk: row for row, pk in enumerate(self._ids[name])}
        return _maps_at(maps[[row_of[pk] for pk in self._pks]], self._size)

    def __iter__(self) -> Iterator[str]:
        return iter(self._artifacts)

    def __len__(self) -> int:
        return len(self._artifacts)


def _maps_at(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W) float maps at ``size`` (width, height); unchanged when they have it."""
    if maps.shape[2:0:-1] == size:
        return maps
    resample = Image.Resampling.BOX
    return np.stack(
        [
            np.asarray(Image.fromarray(m.astype(np.float32), "F").resize(size, resample))
            for m in maps
        ]
    )


def _resized(file: FieldFile, size: tuple[int, int], mode: str | None) -> np.ndarray:
    """A stored image at ``size`` (bilinear, as ``mode``) or a label map (nearest, as is)."""
    with file.open("rb") as handle, Image.open(handle) as image:
        if mode is None:
            return np.asarray(image.resize(size, Image.Resampling.NEAREST))
        return np.asarray(image.convert(mode).resize(size, Image.Resampling.BILINEAR))


def participant_attributes(job: Job, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """One row per participant (the export's pseudonym) with the named attribute columns;
    None when none are named. Raises ValueError naming attributes no participant has."""
    if not columns:
        return None
    rows = ParticipantAttribute.objects.filter(participant__study=job.study).values_list(
        "participant__pseudonym", "key", "value"
    )
    table = pd.DataFrame(list(rows), columns=["participant", "key", "value"])
    missing = sorted(set(columns) - set(table["key"]))
    if missing:
        known = sorted(set(table["key"]))
        raise ValueError(
            f"No participant has the attributes {missing} named in 'participant_groups'; "
            f"the study's participants have {known}."
        )
    wide = table[table["key"].isin(columns)].pivot(index="participant", columns="key")["value"]
    return wide.reindex(columns=list(columns)).reset_index()


def stimulus_labels(job: Job) -> pd.DataFrame:
    """One row per stimulus (its name, as in the export) with the set's label columns."""
    stimuli = job.stimulus_set.stimuli.values_list("name", "labels")
    columns = job.stimulus_set.label_columns
    return pd.DataFrame(
        [{"stimulus": name, **{c: labels.get(c) for c in columns}} for name, labels in stimuli],
        columns=["stimulus", *columns],
    )


def dashboard_address(study: Study) -> str:
    """The study's dashboard, absolute when ``FACESIM_SITE_URL`` is set."""
    return urljoin(
        settings.FACESIM_SITE_URL, reverse("research-study", kwargs={"slug": study.slug})
    )


def group_relevance(
    relevance: RelevanceInputs, groups: dict[str, str], size: tuple[int, int]
) -> dict:
    """{model: {group: mean signed relevance map at `size` (width, height)}} from the report's
    per-model relevance maps (`relevance_maps`), with "all" as the Bubbles maps have it
    (`_group_means`); {} without them."""
    if not isinstance(relevance.relevance, Mapping):
        return {}
    return {
        model: _group_means(zip(relevance.image_ids, _maps_at(maps, size), strict=True), groups)
        for model, maps in relevance.relevance.items()
    }


def _group_means(named: Iterable[tuple[str, np.ndarray]], groups: dict[str, str]) -> dict:
    """The mean array of each group (names `groups` lacks are left out) and, when there are
    several groups, of every grouped one ("all"); arrays are summed as they come."""
    totals: dict[str, list] = {}
    for name, values in named:
        if name in groups:
            total = totals.setdefault(groups[name], [0.0, 0])
            total[0] = total[0] + np.asarray(values, float)
            total[1] += 1
    means = {group: total / count for group, (total, count) in sorted(totals.items())}
    if len(means) > 1:
        means[ALL] = sum(t for t, _ in totals.values()) / sum(n for _, n in totals.values())
    return means


class ImageMaps(Mapping):
    """Model name -> {stimulus name: its relevance map at `size` (width, height)}, read from
    the report's relevance maps when asked for (one model in memory at a time)."""

    def __init__(self, relevance: RelevanceInputs, size: tuple[int, int]) -> None:
        self._relevance, self._size = relevance, size

    def __getitem__(self, model: str) -> dict[str, np.ndarray]:
        maps = _maps_at(self._relevance.relevance[model], self._size)
        return dict(zip(self._relevance.image_ids, maps, strict=True))

    def __iter__(self) -> Iterator[str]:
        return iter(self._relevance.relevance)

    def __len__(self) -> int:
        return len(self._relevance.relevance)


def bubbles_inputs(
    study: Study, *, responses: pd.DataFrame, relevance: RelevanceInputs
) -> BubblesInputs | None:
    """A study's Bubbles design (its images' size, the apertures' sigma), with the stimuli
    grouped by the judged label's value (matching a reference: one group, "all", grouped by
    the reference) and, when the set has part masks, those masks (at the images' size, where
    the apertures were drawn); the answers of the study's models that can take the task to the
    same trials (``model_bubbles``) and the models' mean relevance map per group; None without
    Bubbles trials."""
    if "bubbles" not in study.trial_types:
        return None
    chosen = bubbles_settings(study)
    stimuli = list(study.stimulus_set.stimuli.all())
    sizes = sorted({(s.width, s.height) for s in stimuli})
    if len(sizes) != 1:
        raise ValueError(
            f"Bubbles classification images need stimuli of one size; this set has {sizes[:5]}."
        )
    ((width, height),) = sizes
    match = chosen.task == "match"
    groups = {s.name: ALL if match else str(s.labels.get(chosen.label)) for s in stimuli}
    parts = {}
    part_names = study.stimulus_set.part_names
    if part_names and all(s.part_mask for s in stimuli):
        parts = {
            "part_masks": {s.name: _resized(s.part_mask, (width, height), None) for s in stimuli},
            "part_labels": dict(enumerate(part_names)),
        }
    design = BubblesDesign(height, width, chosen.sigma)
    answered = model_answers(study=study, design=design, responses=responses)
    return BubblesInputs(
        design,
        groups=groups,
        model_answers=answered.answers or None,
        model_skipped=answered.skipped or None,
        faces=_group_means(
            ((s.name, _resized(s.image, (width, height), "L")) for s in stimuli), groups
        ),
        model_maps=group_relevance(relevance, groups, (width, height)) or None,
        model_image_maps=ImageMaps(relevance, (width, height))
        if isinstance(relevance.relevance, Mapping)
        else None,
        **parts,
    )


def responses_export(job: Job) -> bytes:
    return b"".join(responses_csv_chunks(study=job.study))


class Report(Computation):
    def plan(self, job: Job) -> Plan:
        if job.study is None:
            raise ValueError("A report job needs its study.")
        inputs = report_inputs(job, responses_export(job), input_artifacts(job))
        if artifact_find(**report_key(job, inputs)) is not None:
            return Plan(
                [], 0, reused="A report over the same responses and results existed; reused it."
            )
        return Plan([(None, [])], total=1)

    def run_batch(self, job: Job, batch: JobBatch) -> BatchOutput:
        csv = responses_export(job)
        responses, dropped = read_responses_dropping_bad_rows(
            pd.read_csv(io.BytesIO(csv), dtype=str, keep_default_na=False)
        )
        if responses.empty:
            raise ValueError(f"The study has no readable responses yet ({len(dropped)} dropped).")
        artifacts = input_artifacts(job)
        models, relevance = model_inputs(artifacts)
        inputs = report_inputs(job, csv, artifacts)
        parameters = AnalysisParameters.from_dict(job.params)
        analysis = analyse_study(
            responses,
            models,
            parameters=parameters,
            relevance=relevance,
            dropped_rows=dropped,
            participant_attributes=participant_attributes(job, parameters.participant_groups),
            stimulus_labels=stimulus_labels(job),
            dissection=dissection_inputs(
                [a for a in artifacts["dissection"].values() if a is not None]
            ),
            bubbles=bubbles_inputs(
                job.study,
                responses=responses,
                relevance=relevance,
            ),
            sanity=study_sanity(artifacts),
            n_jobs=max(1, settings.FACESIM_ANALYSIS_THREADS),
        )
        with tempfile.TemporaryDirectory() as folder:
            meta = ReportMeta(
                title=job.study.title,
                dashboard_url=dashboard_address(job.study),
            )
            write_report(analysis, folder, meta, screening=screening_rules(job.study))
            (Path(folder) / INPUTS).write_text(json.dumps(inputs, indent=2, default=str))
            (Path(folder) / SUMMARY).write_text(json.dumps(analysis.summary(), default=str))
            archive = zip_folder(folder)
        name, sha = store_file(batch_file_name(job, batch, "zip"), archive)
        return BatchOutput(name, sha)

    def finalize(self, job: Job) -> str:
        batch = job.batches.get()
        artifact_save(
            **report_key(job, zipped_json(batch, INPUTS)),
            file_name=batch.result.name,
            sha256=batch.result_sha256,
            summary=zipped_json(batch, SUMMARY),
            job=job,
        )
        return ""

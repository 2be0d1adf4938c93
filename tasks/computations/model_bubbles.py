"""Models take the study's Bubbles test, for its report: the participants' own trials.

The models answer each main Bubbles trial of the export: the trial's images at the model's input
size, seen through the trial's apertures (drawn from its seed and count at the image's own size,
then resized like the image) on the runner's mid-grey.  Judging a label, every model trained for
that label (its task) gives its decision; matching a reference, every study model with layers of
interest picks the candidate whose embedding at its last such layer correlates more with the
reference's (``modelsvc.bubbles``).  The answers keep the export's columns with the model's
``correct``, so ``analysis`` computes the model's classification image like a participant's.
The report compares the models' classification images with their relevance maps and with the
participants' (``analysis.bubbles.model_answers``).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from analysis.bubbles import BubblesDesign
from modelsvc import class_indices, load_batch
from modelsvc.bubbles import bubbles_decisions, bubbles_matches, visibility_at
from studyapp.bubbles import bubbles_settings
from studyapp.models import Study
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec

FILL = (0.5, 0.5, 0.5)  # the runner's background behind the apertures
BLOCK = 256  # trials whose masks are drawn at once


def bubbles_trials(responses: pd.DataFrame) -> pd.DataFrame:
    """The main Bubbles trials of the export."""
    return responses[(responses["trial_type"] == "bubbles") & (responses["role"] == "main")]


@dataclass(frozen=True)
class ModelAnswers:
    """{model name: the main Bubbles trials with the model's ``correct``} for the study's
    models that can take its Bubbles task, and {model name: why not} for the others."""

    answers: dict[str, pd.DataFrame]
    skipped: dict[str, str]


def model_answers(*, study: Study, design: BubblesDesign, responses: pd.DataFrame) -> ModelAnswers:
    """The study's models' answers to the main Bubbles trials of `responses`."""
    trials = bubbles_trials(responses)
    if trials.empty:
        return ModelAnswers({}, {})
    settings = bubbles_settings(study)
    columns = ["item_1", "item_2", "item_3"] if settings.task == "match" else ["item_1"]
    stimuli = {s.name: s.pk for s in study.stimulus_set.stimuli.all()}
    names = sorted(set(trials[columns].to_numpy().ravel()))
    items = stimulus_items([stimuli[name] for name in names])
    row_of = {name: row for row, name in enumerate(names)}
    rows = trials[columns].apply(lambda column: column.map(row_of))  # image rows
    seeds = trials["bubbles_seed"].astype(np.int64).to_numpy()
    counts = trials["bubbles_count"].astype(np.int64).to_numpy()
    answers, skipped = {}, {}
    for face_model in study.face_models.order_by("pk"):
        spec = model_spec(face_model)
        answer = _answer_rule(settings, face_model, spec, trials, rows, items)
        if isinstance(answer, str):
            skipped[face_model.name] = answer
            continue
        loaded = load_batch([item.path for item in items], spec.input_size)
        if loaded.failed:
            raise ValueError(f"Model Bubbles: stimuli could not be read: {loaded.errors[:3]}")
        model = cached_model(spec)
        with torch.inference_mode():
            correct = np.concatenate(
                [
                    answer(
                        model,
                        loaded.images,
                        part,
                        visibility_at(design.masks(seeds[part], counts[part]), spec.input_size),
                    )
                    for part in (slice(s, s + BLOCK) for s in range(0, len(trials), BLOCK))
                ]
            )
        answers[face_model.name] = trials.assign(correct=correct.astype(bool))
    return ModelAnswers(answers, skipped)


def _answer_rule(settings, face_model, spec, trials, rows, items):
    """How the model answers the trials, or why it cannot: matching needs layers of interest
    (an embedding); judging a label, a model trained for it with its values as classes."""
    if settings.task == "match":
        if not spec.layers:
            return "names no layers of interest: no embedding to match faces by"
        return _matches(spec, _reference_target_foil(trials, rows))
    if face_model.task != settings.label:
        return f"trained for {face_model.task or 'no task'!r}, not {settings.label!r}"
    values = [str(item.labels.get(settings.label)) for item in items]
    targets = class_indices(values, spec.class_names)
    if (targets < 0).any():
        missing = sorted({v for v, t in zip(values, targets, strict=True) if t < 0})
        return f"its classes {list(spec.class_names)[:6]} lack the label's values {missing[:6]}"
    image_index = rows["item_1"].to_numpy(np.int64)
    return _decisions(spec, image_index, targets[image_index])


def _reference_target_foil(trials: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """(T, 3) image rows of each match trial's reference, target and foil: the target is the
    candidate chosen when the answer was correct, else the other one."""
    chosen_second = (trials["choice"] == trials["item_3"]).to_numpy()
    right = trials["correct"].astype(bool).to_numpy()
    target_second = chosen_second == right
    left, second = rows["item_2"].to_numpy(np.int64), rows["item_3"].to_numpy(np.int64)
    target = np.where(target_second, second, left)
    foil = np.where(target_second, left, second)
    return np.stack([rows["item_1"].to_numpy(np.int64), target, foil], axis=1)


def _matches(spec, trials: np.ndarray):
    def answer(model, images, part: slice, visibility) -> np.ndarray:
        return bubbles_matches(
            model, spec, images, trials[part], visibility, layer=spec.layers[-1], fill=FILL
        )

    return answer


def _decisions(spec, image_index: np.ndarray, targets: np.ndarray):
    def answer(model, images, part: slice, visibility) -> np.ndarray:
        return bubbles_decisions(
            model, spec, images, image_index[part], visibility, targets[part], fill=FILL
        )[0]

    return answer

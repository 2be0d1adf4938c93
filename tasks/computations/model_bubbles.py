"""Models take the study's Bubbles test, for its report: the participants' own trials.

Every model trained for the judged label (its task is the Bubbles label) answers each main
Bubbles trial of the export: the trial's image at the model's input size, seen through the
trial's apertures (drawn from its seed and count at the image's own size, then resized like
the image) on the runner's mid-grey.  The answers keep the export's columns with the model's
``correct``, so ``analysis`` computes the model's classification image like a participant's.
The report compares the models' classification images with their relevance maps and with the
participants' (``analysis.bubbles.model_answers``).
"""

import numpy as np
import pandas as pd
import torch

from analysis.bubbles import BubblesDesign
from modelsvc import class_indices, load_batch
from modelsvc.bubbles import bubbles_decisions, visibility_at
from studyapp.bubbles import bubbles_settings
from studyapp.models import Study
from tasks.items import stimulus_items
from tasks.model_cache import cached_model, model_spec

FILL = (0.5, 0.5, 0.5)  # the runner's background behind the apertures
BLOCK = 256  # trials whose masks are drawn at once


def bubbles_trials(responses: pd.DataFrame) -> pd.DataFrame:
    """The main Bubbles trials of the export."""
    return responses[(responses["trial_type"] == "bubbles") & (responses["role"] == "main")]


def model_answers(*, study: Study, design: BubblesDesign, responses: pd.DataFrame) -> dict:
    """{model name: the main Bubbles trials of `responses` with the model's ``correct``} for
    the study's models of the judged label ({} without such models or trials)."""
    trials = bubbles_trials(responses)
    if trials.empty:
        return {}
    label = bubbles_settings(study).label
    stimuli = {s.name: s.pk for s in study.stimulus_set.stimuli.all()}
    names = sorted(set(trials["item_1"]))
    items = stimulus_items([stimuli[name] for name in names])
    row_of = {name: row for row, name in enumerate(names)}
    image_index = trials["item_1"].map(row_of).to_numpy(np.int64)
    seeds = trials["bubbles_seed"].astype(np.int64).to_numpy()
    counts = trials["bubbles_count"].astype(np.int64).to_numpy()
    answers = {}
    for face_model in study.face_models.filter(task=label).order_by("pk"):
        spec = model_spec(face_model)
        targets = class_indices([str(item.labels.get(label)) for item in items], spec.class_names)
        if (targets < 0).any():
            continue  # a model whose classes are not the label's values cannot answer
        loaded = load_batch([item.path for item in items], spec.input_size)
        if loaded.failed:
            raise ValueError(f"Model Bubbles: stimuli could not be read: {loaded.errors[:3]}")
        model = cached_model(spec)
        with torch.inference_mode():
            correct = np.concatenate(
                [
                    bubbles_decisions(
                        model,
                        spec,
                        loaded.images,
                        image_index[part],
                        visibility_at(design.masks(seeds[part], counts[part]), spec.input_size),
                        targets[image_index[part]],
                        fill=FILL,
                    )[0]
                    for part in (slice(s, s + BLOCK) for s in range(0, len(trials), BLOCK))
                ]
            )
        answers[face_model.name] = trials.assign(correct=correct.astype(bool))
    return answers

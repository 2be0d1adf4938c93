"""The demo's Bubbles trials: the faces' gender judged through apertures by simulated people
who look only at the eyes.

Each simulated participant runs the study's staircase (``analysis.bubbles.WeightedUpDown``, as
the runner does) and answers a Bubbles trial correctly with the probability of an
``analysis.bubbles.observers.DiagnosticObserver`` whose weights are the face's eyes (from the
set's part masks): the more of the eyes the apertures show, the likelier the right answer.
The eyes are therefore the planted diagnostic region that the report's classification images
must find.  The Bubbles trials are a block of the demo's pipeline study (beside its triplets),
so the one report shows them next to the models.
"""

import random

import numpy as np
from PIL import Image

from analysis.bubbles import BubblesDesign, WeightedUpDown
from analysis.bubbles.observers import DiagnosticObserver
from studyapp.bubbles import bubbles_settings, label_options
from studyapp.models import Study

BUBBLES_LABEL = "gender"
DIAGNOSTIC_PARTS = ("left_eye", "right_eye")  # what the simulated participants look at
BUBBLES_START = 30


def pipeline_study_bubbles(*, trials_per_participant: int, sigma: float) -> dict:
    """Study fields that give the demo's pipeline study a Bubbles block after (or before) its
    triplets, as many trials in each block."""
    return {
        "trial_types": ["triplet", "bubbles"],
        "trials_per_participant": 2 * trials_per_participant,
        "bubbles": {"label": BUBBLES_LABEL, "sigma": sigma, "start": BUBBLES_START},
    }


def eye_weights(stimulus, part_names: list[str]) -> np.ndarray:
    """1 on the stimulus's eyes, 0 elsewhere, at the image's size (from its part mask)."""
    codes = [part_names.index(name) for name in DIAGNOSTIC_PARTS]
    with stimulus.part_mask.open("rb") as handle, Image.open(handle) as labels:
        return np.isin(np.asarray(labels), codes).astype(float)


class EyesObservers:
    """The simulated participants of a Bubbles study: each answers Bubbles trials from the
    eyes' visibility through the trial's apertures, with a staircase of its own."""

    def __init__(self, study: Study):
        self.settings = bubbles_settings(study)
        label = self.settings.label
        options = label_options(stimulus_set=study.stimulus_set_id, label=label)
        stimuli = list(study.stimulus_set.stimuli.all())
        part_names = study.stimulus_set.part_names
        self.design = BubblesDesign(stimuli[0].height, stimuli[0].width, self.settings.sigma)
        self.observers = {s.pk: DiagnosticObserver(eye_weights(s, part_names)) for s in stimuli}
        self.right = {s.pk: options.index(str(s.labels[label])) for s in stimuli}

    def participant(self, other):
        """One participant's answer rule; trials other than Bubbles are answered by ``other``."""
        staircase = WeightedUpDown(
            start=self.settings.start,
            target=self.settings.target,
            step=self.settings.step,
            maximum=self.settings.max_count,
        )

        def answer(trial: dict, rating, rng: random.Random) -> dict:
            if trial["type"] != "bubbles":
                return other(trial, rating, rng)
            (stimulus,) = trial["items"]
            count, level = staircase.count, staircase.level
            seen = self.design.mask(trial["seed"], count)
            correct = rng.random() < self.observers[stimulus].p_correct(seen)
            staircase.update(correct)
            right = self.right[stimulus]
            return {
                "choice": right if correct else 1 - right,
                "bubbles": {"seed": trial["seed"], "count": count, "level": level},
            }

        return answer

"""A study's Bubbles settings: read from its ``bubbles`` JSON, checked, and what they imply.

A Bubbles trial shows a face through Gaussian apertures (``analysis.bubbles.BubblesDesign``:
the runner draws the same mask from the trial's seed).  Its task is one of ``TASKS``: "label"
asks which of the two values of a label column the face has (e.g. gender); "match" shows a
reference face in full above two faces seen through the same apertures and asks which of the two
has the reference's value of the label column (e.g. the same identity; the plan picks the
candidates, ``studyapp.planning``). The number of apertures follows a weighted up-down
staircase (``analysis.bubbles.WeightedUpDown``) that the runner runs (static/runner/bubbles.js),
resuming from the outcomes of the stored answers; each response stores the count shown and the
staircase level it came from. Nothing here imports ``analysis`` (web workers stay light).
"""

import math
from collections import Counter
from dataclasses import asdict, dataclass

from django.db.models.fields.json import KeyTextTransform

from studyapp.errors import Unprocessable
from studyapp.models import Stimulus, StimulusSet, Study, Trial
from studyapp.payloads import ResponsePayload

TASKS = ("label", "match")
DEFAULTS = {
    "task": "label",
    "sigma": 10.0,
    "start": 30,
    "target": 0.75,
    "step": 0.1,
    "max_count": 200,
}
KEYS = {"label", *DEFAULTS}
MAX_COUNT_LIMIT = 1000


@dataclass(frozen=True)
class BubblesSettings:
    """Checked Bubbles settings (see ``Study.bubbles``); counts are kept in [1, max_count]."""

    label: str
    task: str
    sigma: float
    start: int
    target: float
    step: float
    max_count: int

    def count_of(self, level: float) -> int:
        """The count the staircase shows at ``level`` (its rounding and clipping)."""
        return min(self.max_count, max(1, round(math.exp(level))))


def bubbles_problems(data: object) -> list[str]:
    """What is wrong with a study's ``bubbles`` JSON (empty: it can be read)."""
    if not isinstance(data, dict):
        return ["The Bubbles settings must be a JSON object."]
    problems = [f"Unknown Bubbles setting '{key}'." for key in sorted(set(data) - KEYS)]
    values = {**DEFAULTS, **data}
    label = values.get("label")
    if not isinstance(label, str) or not label:
        problems.append(f"'label' must name a label column; got {label!r}.")
    if values["task"] not in TASKS:
        problems.append(f"'task' must be one of {list(TASKS)}; got {values['task']!r}.")
    checks = {
        "sigma": (float, 0.5, 500.0),
        "start": (int, 1, MAX_COUNT_LIMIT),
        "target": (float, 0.5, 0.95),
        "step": (float, 0.01, 1.0),
        "max_count": (int, 1, MAX_COUNT_LIMIT),
    }
    for key, (kind, low, high) in checks.items():
        value = values[key]
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or (kind is int and not isinstance(value, int)) or not low <= value <= high:
            kind_name = "an integer" if kind is int else "a number"
            problems.append(f"'{key}' must be {kind_name} in [{low}, {high}]; got {value!r}.")
    if not problems and values["start"] > values["max_count"]:
        problems.append(
            f"'start' must be at most 'max_count' ({values['max_count']}); got {values['start']}."
        )
    return problems


def bubbles_settings(study: Study) -> BubblesSettings:
    """The study's settings with their defaults (checked when the study was saved)."""
    values = {**DEFAULTS, **study.bubbles}
    return BubblesSettings(
        label=values["label"],
        task=values["task"],
        sigma=float(values["sigma"]),
        start=int(values["start"]),
        target=float(values["target"]),
        step=float(values["step"]),
        max_count=int(values["max_count"]),
    )


def label_options(*, stimulus_set: StimulusSet | int, label: str) -> list[str]:
    """The distinct values of a label column as text, sorted (a missing label is None)."""
    values = (
        Stimulus.objects.filter(stimulus_set=stimulus_set)
        .annotate(value=KeyTextTransform(label, "labels"))
        .order_by("value")
        .values_list("value", flat=True)
        .distinct()
    )
    return list(values)


def frozen_label_columns(*, stimulus_set: StimulusSet | int) -> set[str]:
    """Label columns that started Bubbles studies on the set score answers by: their values
    stay as they are (an answer stores the index of the value chosen, a match plan was drawn
    from them)."""
    studies = Study.objects.filter(
        stimulus_set=stimulus_set, trial_types__contains=["bubbles"], participants__isnull=False
    )
    return {label for label in studies.values_list("bubbles__label", flat=True) if label}


def bubbles_design_problems(*, study: Study) -> list[str]:
    """Why a study with Bubbles trials could not run them on its stimulus set."""
    problems = bubbles_problems(study.bubbles)
    if problems:
        return problems
    settings = bubbles_settings(study)
    values = _label_values(stimulus_set=study.stimulus_set, label=settings.label)
    if None in values:
        return [f"Every stimulus needs a value for the label '{settings.label}'."]
    counts = Counter(values)
    options = sorted(counts)
    if settings.task == "label" and len(options) != 2:
        return [f"The label '{settings.label}' must have exactly two values; it has {options}."]
    if settings.task == "match":
        single = [value for value in options if counts[value] < 2]
        if len(options) < 2 or single:
            return [
                f"Match-to-reference needs at least two values of '{settings.label}', each "
                f"with at least two images; it has {len(options)} values, and these have one "
                f"image: {single[:5]}{' ...' if len(single) > 5 else ''}."
            ]
    return []


def match_identities(*, study: Study) -> tuple[int, ...] | None:
    """For match-to-reference Bubbles: each stimulus's value of the label (as a code), in key
    order, for the planner; None when the study has no such trials."""
    if "bubbles" not in study.trial_types or bubbles_settings(study).task != "match":
        return None
    values = _label_values(stimulus_set=study.stimulus_set_id, label=study.bubbles["label"])
    codes = {value: code for code, value in enumerate(sorted(set(values), key=str))}
    return tuple(codes[value] for value in values)


def _label_values(*, stimulus_set: StimulusSet | int, label: str) -> list[str | None]:
    """Each stimulus's value of a label column as text, in key order (missing: None)."""
    return list(
        Stimulus.objects.filter(stimulus_set=stimulus_set)
        .order_by("pk")
        .annotate(value=KeyTextTransform(label, "labels"))
        .values_list("value", flat=True)
    )


def match_trial(trial: Trial) -> bool:
    """A match-to-reference Bubbles trial: the reference and two candidates."""
    return trial.trial_type == "bubbles" and len(trial.items) == 3


def bubbles_plan(*, study: Study) -> dict:
    """What the runner needs: the settings and, judging a label, its two values (never which
    one is right)."""
    settings = bubbles_settings(study)
    options = (
        label_options(stimulus_set=study.stimulus_set_id, label=settings.label)
        if settings.task == "label"
        else []
    )
    return {**asdict(settings), "minimum": 1, "options": options}


def bubbles_correct(
    trial: Trial, payload: ResponsePayload, study: Study, label_value: str | None
) -> bool:
    """Check a Bubbles answer's parameters against the trial and the study; is it correct?

    The seed must be the trial's, the count in [1, max_count] and the one the staircase shows
    at the sent level.  Judging a label, ``payload.choice`` (checked to be 0 or 1) indexes the
    label's values; in a match trial it is the chosen candidate (checked to be one).
    """
    sent = {"seed": payload.bubbles_seed, "count": payload.bubbles_count}
    sent["level"] = payload.bubbles_level
    missing = [key for key, value in sent.items() if value is None]
    if missing:
        raise Unprocessable(
            "missing_bubbles", f"A Bubbles answer needs 'bubbles.{missing[0]}'.", "bubbles"
        )
    if payload.bubbles_seed != trial.bubbles_seed:
        raise Unprocessable(
            "wrong_seed",
            f"'bubbles.seed' must be this trial's seed; got {payload.bubbles_seed}.",
            "bubbles",
        )
    settings = bubbles_settings(study)
    if not 1 <= payload.bubbles_count <= settings.max_count:
        raise Unprocessable(
            "out_of_range",
            f"'bubbles.count' must be in [1, {settings.max_count}]; got {payload.bubbles_count}.",
            "bubbles",
        )
    top = math.log(settings.max_count)
    level = payload.bubbles_level
    if not 0 <= level <= top or settings.count_of(level) != payload.bubbles_count:
        raise Unprocessable(
            "inconsistent_level",
            f"'bubbles.level' must be in [0, {top:.4f}] and show the sent count "
            f"{payload.bubbles_count}; got {level}.",
            "bubbles",
        )
    if match_trial(trial):
        return payload.choice == trial.correct_item
    options = label_options(stimulus_set=study.stimulus_set_id, label=settings.label)
    return options[payload.choice] == label_value

"""A study's timing settings: fixation, exposure, mask, deadline, inter-trial interval, feedback.

Stored as a JSON object on ``Study.timing``; keys left out take ``DEFAULTS``. ``blocks`` maps a
trial type to overrides for its block, e.g.
``{"fixation_ms": 500, "exposure_ms": 100, "mask": "noise", "mask_ms": 200,
"blocks": {"rating": {"exposure_ms": null, "mask": "none"}}}``.
"""

from collections.abc import Iterable

DEFAULTS = {
    "fixation_ms": 0,  # 0: no fixation cross
    "exposure_ms": None,  # None: the faces stay until the answer
    "mask": "none",  # "none", "noise" or "scrambled" (the trial's faces, shuffled in tiles)
    "mask_ms": 0,
    "deadline_ms": None,  # None: no deadline; else "too slow" from then on
    "iti_ms": 0,
    "practice_feedback": False,
}
MASKS = ("none", "noise", "scrambled")
# (low, high) for the integer settings; None is allowed where the default is None.
RANGES = {
    "fixation_ms": (0, 5000),
    "exposure_ms": (10, 10_000),
    "mask_ms": (0, 5000),
    "deadline_ms": (200, 60_000),
    "iti_ms": (0, 10_000),
}


def timing_problems(timing: object, *, trial_types: Iterable[str]) -> list[str]:
    """What is wrong with ``timing`` (empty: all is well); messages name the bad value."""
    if not isinstance(timing, dict):
        return [f"The timing settings must be a JSON object; got {timing!r}."]
    blocks = timing.get("blocks", {})
    if not isinstance(blocks, dict):
        return [f"'blocks' must map a trial type to settings; got {blocks!r}."]
    types = list(trial_types)
    problems = _settings_problems({k: v for k, v in timing.items() if k != "blocks"}, "")
    for trial_type, overrides in blocks.items():
        where = f"blocks.{trial_type}."
        if trial_type not in types:
            problems.append(f"'blocks' names {trial_type!r}, not a trial type of this study.")
        elif not isinstance(overrides, dict):
            problems.append(f"'{where[:-1]}' must be a JSON object; got {overrides!r}.")
        else:
            problems += _settings_problems(overrides, where)
    if not problems:
        for trial_type in types:
            problems += _combination_problems(block_timing(timing, trial_type), trial_type)
    return problems


def block_timing(timing: dict, trial_type: str) -> dict:
    """The settings of one block: defaults, then the study's, then the block's overrides."""
    study = {k: v for k, v in timing.items() if k != "blocks"}
    return {**DEFAULTS, **study, **timing.get("blocks", {}).get(trial_type, {})}


def _settings_problems(settings: dict, where: str) -> list[str]:
    problems = []
    for key, value in settings.items():
        name = f"'{where}{key}'"
        if key not in DEFAULTS:
            problems.append(f"Unknown timing setting {name}; known: {', '.join(DEFAULTS)}.")
        elif key == "mask":
            if value not in MASKS:
                problems.append(f"{name} must be one of {', '.join(MASKS)}; got {value!r}.")
        elif key == "practice_feedback":
            if not isinstance(value, bool):
                problems.append(f"{name} must be true or false; got {value!r}.")
        elif value is None and DEFAULTS[key] is None:
            continue
        elif isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be a whole number of ms; got {value!r}.")
        elif not RANGES[key][0] <= value <= RANGES[key][1]:
            low, high = RANGES[key]
            problems.append(f"{name} must be in [{low}, {high}] ms; got {value}.")
    return problems


def _combination_problems(settings: dict, trial_type: str) -> list[str]:
    problems = []
    if settings["mask"] != "none" and settings["exposure_ms"] is None:
        problems.append(f"The {trial_type} block has a mask but no exposure_ms: a mask needs one.")
    if settings["mask"] != "none" and settings["mask_ms"] == 0:
        problems.append(f"The {trial_type} block has a mask of 0 ms: give mask_ms.")
    if settings["mask"] == "none" and settings["mask_ms"] > 0:
        problems.append(f"The {trial_type} block has mask_ms but no mask: choose one.")
    return problems

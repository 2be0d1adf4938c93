"""Stimuli of a set as ``modelsvc.StimulusItem`` (key = stimulus name, path = stored image)."""

from pathlib import Path

from modelsvc import StimulusItem
from studyapp.models import Stimulus


def stimulus_items(stimulus_ids: list[int]) -> list[StimulusItem]:
    """Items in the order of ``stimulus_ids``."""
    rows = {s.pk: s for s in Stimulus.objects.filter(pk__in=stimulus_ids)}
    missing = [pk for pk in stimulus_ids if pk not in rows]
    if missing:
        raise ValueError(f"Stimuli {missing[:10]} no longer exist.")
    return [
        StimulusItem(key=rows[pk].name, path=Path(rows[pk].image.path), labels=rows[pk].labels)
        for pk in stimulus_ids
    ]

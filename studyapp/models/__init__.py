"""Database models, one module per domain; import them from here."""

from .participants import Participant, Response, Trial
from .stimuli import Stimulus, StimulusSet
from .studies import Study, TrialType

__all__ = ["Participant", "Response", "Stimulus", "StimulusSet", "Study", "Trial", "TrialType"]

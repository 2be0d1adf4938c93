"""Database models, one module per domain; import them from here."""

from .access import AuditEvent, StudyMembership
from .adaptive import AdaptivePlanChoice, AdaptiveState
from .compute import Artifact, FaceModel, Job, JobBatch
from .participants import Participant, ParticipantAttribute, PooledPlan, Response, Trial
from .stimuli import Stimulus, StimulusImport, StimulusSet
from .studies import Study, TrialType

__all__ = [
    "AdaptivePlanChoice",
    "AdaptiveState",
    "Artifact",
    "AuditEvent",
    "FaceModel",
    "Job",
    "JobBatch",
    "Participant",
    "ParticipantAttribute",
    "PooledPlan",
    "Response",
    "Stimulus",
    "StimulusImport",
    "StimulusSet",
    "Study",
    "StudyMembership",
    "Trial",
    "TrialType",
]

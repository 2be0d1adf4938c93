"""The job kinds the workers know, by ``Job.kind``."""

from studyapp.models import Job
from tasks.computations.adaptive import AdaptiveSelection
from tasks.computations.base import Computation
from tasks.computations.decision import DecisionWeighting
from tasks.computations.dissection import Dissection
from tasks.computations.embeddings import Embeddings
from tasks.computations.finetune import Finetune
from tasks.computations.maps import MapComparisonJob
from tasks.computations.masking import Masking
from tasks.computations.relevance import Relevance
from tasks.computations.report import Report

COMPUTATIONS: dict[str, Computation] = {
    Job.Kind.EMBEDDINGS: Embeddings(),
    Job.Kind.RELEVANCE: Relevance(),
    Job.Kind.MASKING: Masking(),
    Job.Kind.FINETUNE: Finetune(),
    Job.Kind.DECISION: DecisionWeighting(),
    Job.Kind.DISSECTION: Dissection(),
    Job.Kind.MAPS: MapComparisonJob(),
    Job.Kind.REPORT: Report(),
    Job.Kind.ADAPTIVE: AdaptiveSelection(),
}


def computation_for(kind: str) -> Computation:
    if kind not in COMPUTATIONS:
        raise ValueError(
            f"No worker computation for job kind {kind!r}; known: {sorted(COMPUTATIONS)}."
        )
    return COMPUTATIONS[kind]

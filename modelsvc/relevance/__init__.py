"""Relevance maps (LRP through zennit or the fast path; gradient baselines).

`explain` and `compute_relevance` live in `attribution`, the fast path in `fast`, the method
registry in `methods`, the zennit and autograd routes in `zennit_backend`.
"""

from modelsvc.relevance.attribution import (
    BACKENDS,
    Explanation,
    RelevanceResult,
    compute_relevance,
    explain,
)
from modelsvc.relevance.fast import FastPathUnsupported
from modelsvc.relevance.methods import METHODS

__all__ = [
    "BACKENDS",
    "METHODS",
    "Explanation",
    "FastPathUnsupported",
    "RelevanceResult",
    "compute_relevance",
    "explain",
]

"""Hierarchical Network Dissection, the torch side: the Face Dictionary and streamed unit counts.

Pairing statistics on the counts live in ``analysis.dissection`` (pure numpy).
"""

from modelsvc.dissection.dictionary import (
    FaceDictionary,
    binary_concepts,
    build_dictionary,
    dictionary_from_directory,
)

__all__ = ["FaceDictionary", "binary_concepts", "build_dictionary", "dictionary_from_directory"]

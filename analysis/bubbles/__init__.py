"""Bubbles (Gosselin & Schyns 2001): apertures, staircase, classification images and their tests.

`masks` draws a trial's apertures from its seed (the browser draws the same ones), `staircase`
adapts the number of apertures to hold accuracy near a target, `classification_image` streams
trials into a map of where visibility helped, and `significance` judges that map with the pixel
and cluster tests of Chauvin et al. (2005).  `observers` simulates participants whose diagnostic
region is known.  `parts` says which face parts hold a map's significant pixels.  `responses`
computes the maps per stimulus group from the response export (one accumulator per
participant), with their tests, ceilings, part shares and agreement with model maps.
"""

from analysis.bubbles.agreement import bootstrap_agreement, bootstrap_agreements, map_agreement
from analysis.bubbles.classification_image import (
    ClassificationImage,
    ClassificationImageAccumulator,
    split_half_reliability,
)
from analysis.bubbles.masks import BubblesDesign, bubble_centres, centres_of_trials
from analysis.bubbles.parts import group_part_presence, part_shares
from analysis.bubbles.responses import (
    DecisionWeighting,
    decision_weighting,
    participant_accumulators,
)
from analysis.bubbles.significance import SignificantRegions, cluster_test, pixel_test
from analysis.bubbles.staircase import WeightedUpDown

__all__ = [
    "BubblesDesign",
    "ClassificationImage",
    "ClassificationImageAccumulator",
    "DecisionWeighting",
    "SignificantRegions",
    "WeightedUpDown",
    "bootstrap_agreement",
    "bootstrap_agreements",
    "bubble_centres",
    "centres_of_trials",
    "cluster_test",
    "decision_weighting",
    "group_part_presence",
    "map_agreement",
    "part_shares",
    "participant_accumulators",
    "pixel_test",
    "split_half_reliability",
]

"""Real human ratings: One Million Impressions (Peterson et al., PNAS 2022).

Attribute profiles (mean ratings on 34 attributes per face) give a reference dissimilarity;
the dataset's repeated ratings give its test-retest reliability.  Skips when the dataset is
not on this machine.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.compare import compare
from analysis.human.profiles import profile_dissimilarity
from analysis.inference import mantel_test
from analysis.matrices import SimilarityMatrix
from analysis.reliability import spearman_brown

DATASETS = Path(
    os.environ.get(
        "FACESIM_DATASETS_DIR", Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"
    )
)
OMI = DATASETS / "omi_faces"
N_FACES = 200

pytestmark = pytest.mark.skipif(
    not (OMI / "attribute_ratings.csv.gz").exists(), reason=f"OMI dataset not found at {OMI}"
)


@pytest.fixture(scope="module")
def omi():
    means = pd.read_csv(OMI / "attribute_means.csv", index_col="stimulus")
    ratings = pd.read_csv(OMI / "attribute_ratings.csv.gz")
    ratings = ratings[ratings["stimulus"].isin(means.index)]
    by_type = {
        kind: ratings[ratings["rating_type"] == kind]
        .groupby(["stimulus", "attribute"])["rating"]
        .mean()
        .unstack()[means.columns]
        for kind in ("normal", "repeat")
    }
    # faces whose every attribute was also rated in a repeat block
    complete = by_type["repeat"].loc[means.index].dropna().index[:N_FACES]
    return means.loc[complete], by_type["normal"].loc[complete], by_type["repeat"].loc[complete]


def test_attribute_profiles_give_a_complete_reference_matrix(omi):
    means, _, _ = omi
    reference = profile_dissimilarity(means)
    assert reference.n_stimuli == N_FACES
    assert reference.n_missing_pairs == 0
    assert reference.stimuli[0] == str(means.index[0])
    assert 0 < np.median(reference.upper()) < 2  # 1 - r of z-scored profiles
    euclid = profile_dissimilarity(means, metric="euclidean")
    assert compare(reference, euclid, "spearman") > 0.8


def test_repeat_ratings_show_the_reference_is_reliable(omi):
    means, normal, repeat = omi
    first = profile_dissimilarity(normal, name="normal ratings")
    second = profile_dissimilarity(repeat, name="repeat ratings")
    retest = compare(first, second, "spearman")
    # measured on this data: 0.91 (Spearman-Brown 0.95) for the first 200 complete faces
    assert retest > 0.8
    assert spearman_brown(retest) > retest
    test = mantel_test(first, second, "spearman", n_permutations=200, random_state=0)
    assert test.p_value == pytest.approx(1 / 201)
    per_attribute = [np.corrcoef(normal[c], repeat[c])[0, 1] for c in means.columns]
    assert min(per_attribute) > 0.3
    assert np.median(per_attribute) > 0.8
    # the published means pool normal, repeat and fill-in ratings: closest to the normal ones
    full = profile_dissimilarity(means)
    assert compare(full, first, "spearman") > compare(full, second, "spearman")


def test_an_image_model_is_compared_with_the_reference(omi):
    means, _, _ = omi
    ids = means.index[:100]
    pixels = np.stack(
        [
            np.asarray(
                Image.open(OMI / "images" / f"{i}.jpg").convert("L").resize((16, 16)), float
            ).ravel()
            for i in ids
        ]
    )
    model = SimilarityMatrix(1 - np.corrcoef(pixels), [str(i) for i in ids], name="pixels")
    reference = profile_dissimilarity(means.loc[ids])
    result = mantel_test(model, reference, "spearman", n_permutations=500, random_state=0)
    # measured: rho = 0.069, p = 0.002 -- raw pixels carry a little of the judged structure
    assert 0 < result.statistic < 0.3
    assert result.p_value < 0.05

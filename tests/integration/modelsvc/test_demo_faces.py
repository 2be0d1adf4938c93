"""End to end on generated demo faces, on the CPU: finetune two small models (glasses and
gender tasks), relevance through the fast path, self- and cross-model masking with a
random-mask baseline, and map comparison."""

import numpy as np
import pytest
from scipy.stats import wilcoxon

import facegen
from modelsvc import (
    FinetuneSettings,
    MaskingSettings,
    ModelSpec,
    compare_maps,
    compute_relevance,
    cross_model_masking,
    dataset_mean,
    evaluate_masking,
    finetune,
    image_channel_means,
    load_batch,
    read_metadata,
    summarise_generalisation,
)

pytestmark = pytest.mark.slow
TASKS = ("glasses", "gender")


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = facegen.write_dataset(
        tmp_path_factory.mktemp("demo") / "faces",
        n_identities=16,
        images_per_identity=6,
        size=64,
        seed=0,
    )
    items = read_metadata(root / "metadata.csv", root / "images")
    base = ModelSpec("small_cnn", 1, input_size=(64, 64), name="scratch")
    models = {}
    for task in TASKS:
        result = finetune(
            base, items, FinetuneSettings(task, seed=0, train_last=None), progress=False
        )
        models[task] = (result.model, result.spec)
    images = load_batch([item.path for item in items], (64, 64)).images
    keys = [item.key for item in items]
    relevance = {}
    for task, (model, spec) in models.items():
        labels = np.array([spec.class_names.index(item.labels[task]) for item in items])
        relevance[task] = compute_relevance(model, spec, images, targets=labels)
    return models, images, keys, relevance


def test_both_models_learn_their_task_with_grouped_validation(experiment):
    models, *_ = experiment
    for task, (_, spec) in models.items():
        record = spec.training
        assert record["group_column"] == "identity"
        # chance is 0.5; with the split's own seed (one split per task) measured over finetuning
        # seeds 0-2: glasses 0.92-0.94, gender 0.71-0.92 (4 validation identities, 24 images)
        assert record["val_balanced_accuracy"] >= 0.65, (task, record["val_balanced_accuracy"])


def test_relevance_generalisation_matrix_end_to_end(experiment):
    models, images, keys, relevance = experiment
    maps = {task: r.maps for task, r in relevance.items()}
    targets = {task: r.targets for task, r in relevance.items()}
    assert {r.backend for r in relevance.values()} == {"fast"}
    fill = dataset_mean(image_channel_means(images))
    settings = MaskingSettings(mode="remove", fill="mean", fill_value=fill, seed=0)
    cross = cross_model_masking(
        models, images, maps, targets, keys, settings, baselines=("random", "center")
    )
    summary = summarise_generalisation(cross, settings.fractions)
    assert summary.sources == ("glasses", "gender", "random", "center")
    assert summary.accuracy.shape == (4, 2, 7)
    for index, task in enumerate(TASKS):
        model, spec = models[task]
        own = evaluate_masking(model, spec, images, maps[task], targets[task], keys, settings)
        np.testing.assert_array_equal(summary.accuracy[index, index], own.correct.mean(0))
        # Faithfulness: removing a model's most relevant pixels hurts it more than removing as
        # many random pixels (accuracy), and image by image (target logit, paired one-sided
        # Wilcoxon over the 96 images) more than random pixels or a centred blob, so the maps
        # are more than "the face is in the middle". Measured with 1 and 2 torch threads:
        # accuracy AUC own vs random glasses 0.61 vs 0.88, gender 0.60 vs 0.71 (this margin
        # moves by 0.01 with the thread count); logit p vs random glasses 1e-11, gender 2e-4;
        # vs centre 2e-10 and 6e-5.
        assert summary.auc[index, index] < summary.auc[2, index], summary.auc
        own_logit = cross.target_logit[index, index].mean(-1)
        for baseline in (2, 3):
            other = cross.target_logit[baseline, index].mean(-1)
            assert wilcoxon(own_logit, other, alternative="less").pvalue < 0.01, (task, baseline)
    np.testing.assert_array_equal(summary.asymmetry, -summary.asymmetry.transpose(1, 0, 2))
    assert np.all((summary.auc >= 0) & (summary.auc <= 1))


def test_maps_of_the_two_tasks_are_compared_per_image(experiment):
    _, _, keys, relevance = experiment
    comparison = compare_maps({task: r.maps for task, r in relevance.items()})
    assert comparison.spearman.shape == (len(keys), 2, 2)
    summary = comparison.summary()
    np.testing.assert_allclose(np.diagonal(summary["spearman"]), 1.0)
    assert -1 < summary["spearman"][0, 1] < 1

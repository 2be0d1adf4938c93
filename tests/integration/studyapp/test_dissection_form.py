"""Launching a dissection job from the jobs page: a Face Dictionary the set cannot support, or
a layer that is not convolutional, is a form error that names it, and no job is created;
generated faces keep their parameters at import and get their dictionary from them."""

import csv
import json

import pytest
from django.conf import settings
from django.urls import reverse
from PIL import Image

import facegen
from studyapp.models import Job
from studyapp.services.dissection import dissection_settings, set_dictionary
from studyapp.services.stimuli import StimulusImportRejected, stimulus_set_import
from studyapp.stimulus_sources import files_from_folder
from tests.compute_fixtures import small_model

pytestmark = pytest.mark.django_db


def uploaded_set(folder, *, smile, shrink_one=False):
    """Eight generated faces as an uploaded set (no generator parameters) with a ``smile``
    column; `shrink_one` stores one image and its mask at 48 px (masks of two sizes)."""
    facegen.write_dataset(folder, n_identities=4, images_per_identity=2, size=64, seed=5)
    (folder / "params.json").unlink()
    with open(folder / "metadata.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(folder / "metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, [*rows[0], "smile"])
        writer.writeheader()
        writer.writerows({**row, "smile": value} for row, value in zip(rows, smile, strict=True))
    if shrink_one:
        name = rows[0]["filename"]
        for part, resample in (("images", Image.BILINEAR), ("masks", Image.NEAREST)):
            with Image.open(folder / part / name) as image:
                image.resize((48, 48), resample).save(folder / part / name)
    files = files_from_folder(
        folder,
        max_files=settings.STIMULUS_MAX_FILES,
        max_total_bytes=settings.STIMULUS_MAX_UPLOAD_BYTES,
    )
    stimulus_set, _ = stimulus_set_import(name=f"uploaded {folder.name}", files=files)
    return stimulus_set


def launch(client, stimulus_set, params):
    model = small_model(f"cnn for {stimulus_set.name}")
    return client.post(
        reverse("research-jobs"),
        {
            "kind": "dissection",
            "stimulus_set": stimulus_set.pk,
            "face_models": [model.pk],
            "params": json.dumps(params),
        },
    )


@pytest.mark.parametrize(
    ("smile", "shrink_one", "params", "message"),
    [
        (
            ["yes"] * 6 + ["no"] * 2,
            False,
            {"global_columns": ["smile"]},
            "at least 4 positive and 4 negative images; got &#x27;smile=no&#x27; on 2 of 8",
        ),
        (
            ["yes"] * 8,
            False,
            {"global_columns": ["smile"]},
            "non-constant labels; got &#x27;smile&#x27; equal to &#x27;yes&#x27; on every image",
        ),
        (
            ["yes", "no"] * 4,
            True,
            {"global_columns": ["smile"]},
            "must hold 2-D maps of one size; got sizes [(48, 48), (64, 64)]",
        ),
        (
            ["yes", "no"] * 4,
            False,
            {"local_columns": {"smile": "ears"}},
            "must tie each column to a part of",
        ),
        (
            ["yes", "no"] * 4,
            False,
            {"global_columns": ["mood"]},
            "must be label columns of the set",
        ),
        (
            ["yes", "no"] * 4,
            False,
            {"global_columns": ["smile"], "top_fraction": 5},
            "&#x27;top_fraction&#x27; must be a number in (0, 1); got 5.",
        ),
        (
            ["yes", "no"] * 4,
            False,
            {"global_columns": ["smile"], "layers": ["features.11", "classifier.1"]},
            "small_cnn layers {&#x27;classifier.1&#x27;: (1, 128)} are not",
        ),
        (
            ["yes", "no"] * 4,
            False,
            {"global_columns": ["smile"], "layers": ["features.99"]},
            "Layer &#x27;features.99&#x27; is not a layer of the small_cnn architecture",
        ),
    ],
)
def test_a_dictionary_the_set_cannot_support_is_a_form_error_and_no_job(
    staff_client, media, tmp_path, smile, shrink_one, params, message
):
    stimulus_set = uploaded_set(tmp_path / "faces", smile=smile, shrink_one=shrink_one)
    response = launch(staff_client, stimulus_set, params)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dissection: " in page
    assert message in page
    assert not Job.objects.filter(kind="dissection").exists()


def test_a_supported_dictionary_launches_the_job(staff_client, media, tmp_path):
    stimulus_set = uploaded_set(tmp_path / "faces", smile=["yes", "no"] * 4)
    response = launch(staff_client, stimulus_set, {"global_columns": ["smile"]})
    assert response.status_code == 302
    job = Job.objects.get(kind="dissection")
    assert job.params == {"global_columns": ["smile"]}


def test_generated_faces_keep_their_parameters_for_their_dictionary(media, tmp_path):
    folder = tmp_path / "generated"
    facegen.write_dataset(folder, n_identities=4, images_per_identity=2, size=64, seed=5)
    written = json.loads((folder / "params.json").read_text())["images"]
    files = files_from_folder(
        folder,
        max_files=settings.STIMULUS_MAX_FILES,
        max_total_bytes=settings.STIMULUS_MAX_UPLOAD_BYTES,
    )
    stimulus_set, _ = stimulus_set_import(name="generated faces", files=files)
    for stimulus in stimulus_set.stimuli.all():
        assert stimulus.preparation["facegen"]["face"] == written[f"{stimulus.name}.png"]["face"]
    chosen = dissection_settings(stimulus_set=stimulus_set, params={})
    assert chosen["dictionary"] == "generated"
    built = set_dictionary(stimulus_set=stimulus_set, settings=chosen)
    concepts = {*built.dictionary.local, *built.dictionary.global_}
    assert "gender=female" in concepts
    assert {"eye_size=low", "eye_size=high", "glasses=yes"} <= concepts
    # one of four identities has side-parted hair: 2 of 8 images, below min_positives (4)
    assert built.left_out == ["hair_style (hair_style=side_part on 2 of 8 images)"]
    assert not any(c.startswith("hair_style") for c in concepts)


def test_facegen_parameters_facegen_refuses_stop_the_import_other_records_are_ignored(
    media, tmp_path
):
    folder = tmp_path / "broken"
    facegen.write_dataset(folder, n_identities=2, images_per_identity=2, size=32, seed=1)
    record = json.loads((folder / "params.json").read_text())
    first = sorted(record["images"])[0]
    record["images"][first]["face"]["nose_width"] = 9.0
    (folder / "params.json").write_text(json.dumps(record))
    files = files_from_folder(
        folder,
        max_files=settings.STIMULUS_MAX_FILES,
        max_total_bytes=settings.STIMULUS_MAX_UPLOAD_BYTES,
    )
    with pytest.raises(StimulusImportRejected) as rejected:
        stimulus_set_import(name="broken generator file", files=files)
    assert f"params.json: {first}: " in str(rejected.value)
    assert "nose_width" in str(rejected.value)

    (folder / "params.json").write_text('{"images": {"a.png": {"pose": 1}}}')  # not facegen's
    files = files_from_folder(
        folder,
        max_files=settings.STIMULUS_MAX_FILES,
        max_total_bytes=settings.STIMULUS_MAX_UPLOAD_BYTES,
    )
    stimulus_set, report = stimulus_set_import(name="other generator file", files=files)
    assert "params.json" in report.ignored
    assert not stimulus_set.stimuli.filter(preparation__has_key="facegen").exists()

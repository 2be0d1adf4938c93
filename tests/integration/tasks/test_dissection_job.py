"""The dissection job kind through Redis and a real worker: counts equal to the library's,
progress, reuse, and the dictionary checks of the launch form."""

import hashlib
from collections import Counter

import numpy as np
import pytest
import torch
from django.urls import reverse

from analysis.dissection import dissection_from_arrays
from analysis.dissection_examples import top_units
from modelsvc import pick_device
from modelsvc.dissection.activations import dissect_units, randomized_copy, tensor_batches
from modelsvc.dissection.files import COUNT_FIELDS
from modelsvc.images import load_image, normalize
from studyapp.models import Artifact, Job
from studyapp.services.dissection import dissection_settings, set_dictionary
from studyapp.services.jobs import job_launch
from studyapp.storage import read_arrays
from tasks.model_cache import cached_model, model_spec
from tests.compute_fixtures import small_model, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
LAYERS = ["features.4", "features.7"]


def test_a_dissection_job_stores_the_counts_the_library_computes(
    worker, faces, client, django_user_model
):
    model = small_model("dissected cnn")
    launcher = django_user_model.objects.create_user("launcher", password="pw-launcher-1")
    job = wait_for(
        job_launch(
            kind=Job.Kind.DISSECTION,
            stimulus_set=faces,
            face_models=[model],
            params={"layers": LAYERS},
            user=launcher,
        )
    )
    assert job.status == "succeeded", job.error
    assert job.progress_done == job.progress_total == 24
    assert job.batches.count() == 1  # every pass needs every image: one batch per model
    artifact = Artifact.objects.get(kind=Artifact.Kind.DISSECTION, face_model=model)
    arrays = read_arrays(artifact.file.name, artifact.sha256)
    assert set(artifact.summary["networks"]) == {"model", "random"}

    # the same counts from the library, on the same images, dictionary and random copy
    settings = dissection_settings(stimulus_set=faces, params={"layers": LAYERS})
    built = set_dictionary(stimulus_set=faces, settings=settings)
    assert settings["dictionary"] == "generated"
    assert arrays["stimulus_ids"].tolist() == built.stimulus_ids
    spec = model_spec(model)
    network = cached_model(spec, pick_device())
    stimuli = sorted(faces.stimuli.all(), key=lambda s: s.pk)
    images = normalize(
        torch.stack([load_image(s.image.path, spec.input_size) for s in stimuli]), spec
    )
    for name, net in {"model": network, "random": randomized_copy(network, seed=0)}.items():
        counts = dissect_units(
            net, layers=LAYERS, batches=tensor_batches(images, 5), dictionary=built.dictionary
        )
        for layer in LAYERS:
            for field in COUNT_FIELDS:
                np.testing.assert_array_equal(
                    arrays[f"{name}/{layer}/{field}"], getattr(counts[layer], field)
                )
    dissection = dissection_from_arrays(arrays, artifact.summary)
    assert set(dissection.concepts.global_) == {
        k.removeprefix("global/") for k in arrays if k.startswith("global/")
    }
    assert "gender=female" in dissection.concepts.global_
    # examples: each concept's 3 best units on their top images, outlines at the mask size
    masks = arrays["examples/features.7/masks"]
    assert masks.shape[1:] == (4, 64, 64)
    assert masks.dtype == bool
    concepts = arrays["examples/features.7/concepts"]
    assert len(concepts) == masks.shape[0]
    assert set(Counter(concepts.tolist()).values()) == {3}
    stored = dissection.counts["model"]["features.7"]
    best = top_units(stored, dissection.concepts, units_per_concept=3)
    assert arrays["examples/features.7/units"].tolist() == best["unit"].tolist()
    assert arrays["examples/pixels"].shape == (len(arrays["examples/rows"]), 64, 64, 3)

    again = wait_for(
        job_launch(
            kind=Job.Kind.DISSECTION,
            stimulus_set=faces,
            face_models=[model],
            params={"layers": LAYERS},
        )
    )
    assert again.status == "succeeded"
    assert "reused" in again.note

    # the job's and the artifact's pages show the figures; downloads are permission-checked
    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-1")
    pages = {
        "download": reverse("research-artifact-download", args=[artifact.pk]),
        "artifact levels": reverse(
            "research-artifact-dissection-figure", args=[artifact.pk, "levels"]
        ),
        "job units": reverse("research-job-dissection-figure", args=[job.pk, "units-0-1"]),
    }
    client.force_login(outsider)
    for name, url in pages.items():
        assert client.get(url).status_code == 404, name
    client.force_login(launcher)
    download = client.get(pages["download"])
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == artifact.sha256
    for name in ("artifact levels", "job units"):
        figure = client.get(pages[name])
        assert figure.status_code == 200, name
        assert figure["Content-Type"] == "image/png"
        assert figure.content.startswith(b"\x89PNG")
    assert (
        client.get(
            reverse("research-job-dissection-figure", args=[job.pk, "units-5-0"])
        ).status_code
        == 404
    )
    job_page = client.get(reverse("research-job", args=[job.pk])).content.decode()
    assert reverse("research-job-dissection-figure", args=[job.pk, "levels"]) in job_page
    assert reverse("research-job-dissection-figure", args=[job.pk, "units-0-1"]) in job_page
    artifact_page = client.get(reverse("research-artifact", args=[artifact.pk])).content.decode()
    assert "Network dissection" in artifact_page

"""A stimulus's labels in the admin: text values of the set's columns, and the column that a
started Bubbles study scores answers by stays as it is (an answer stores the index of the value
chosen among the label's sorted values)."""

import json

import pytest
from django.urls import reverse

from tests.factories import make_stimulus_set, make_study, start_participant

pytestmark = pytest.mark.django_db
BUBBLES = {"label": "gender", "sigma": 3, "start": 30, "target": 0.75, "step": 0.2}


def edit(staff_client, stimulus, labels):
    """POST the admin change form with new labels (raw JSON text)."""
    url = reverse("admin:studyapp_stimulus_change", args=[stimulus.pk])
    text = labels if isinstance(labels, str) else json.dumps(labels)
    return staff_client.post(url, {"labels": text})


@pytest.fixture
def stimulus():
    return make_stimulus_set(4).stimuli.order_by("pk").first()


def test_labels_can_be_corrected_while_no_bubbles_study_has_started(staff_client, stimulus):
    make_study(stimulus.stimulus_set, trial_types=["bubbles"], bubbles=BUBBLES)  # no one started
    start_participant(make_study(stimulus.stimulus_set))  # triplets do not score by labels
    response = edit(staff_client, stimulus, {"identity": "id9", "gender": "female"})
    assert response.status_code == 302, response.content.decode()[-1500:]
    stimulus.refresh_from_db()
    assert stimulus.labels == {"identity": "id9", "gender": "female"}


def test_a_started_bubbles_study_freezes_its_label_and_only_that_one(staff_client, stimulus):
    start_participant(make_study(stimulus.stimulus_set, trial_types=["bubbles"], bubbles=BUBBLES))
    before = dict(stimulus.labels)
    flipped = "female" if before["gender"] == "male" else "male"
    for labels in ({**before, "gender": flipped}, {"identity": before["identity"]}):
        response = edit(staff_client, stimulus, labels)
        assert response.status_code == 200
        assert "started Bubbles studies on this set score answers" in response.content.decode()
        stimulus.refresh_from_db()
        assert stimulus.labels == before
    response = edit(staff_client, stimulus, {**before, "identity": "renamed"})
    assert response.status_code == 302
    stimulus.refresh_from_db()
    assert stimulus.labels == {**before, "identity": "renamed"}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("[1, 2]", "Labels are a JSON object"),
        ('"female"', "Labels are a JSON object"),
        ({"identity": "id0", "age": "30"}, "The set has no label columns [&#x27;age&#x27;]"),
        ({"identity": 3, "gender": "male"}, "these are not: [&#x27;identity&#x27;]"),
        ({"identity": {"a": 1}, "gender": "male"}, "Label values are text"),
        ("{not json", "Enter a valid JSON"),
    ],
)
def test_bad_labels_are_named_and_nothing_is_saved(staff_client, stimulus, labels, message):
    before = dict(stimulus.labels)
    response = edit(staff_client, stimulus, labels)
    assert response.status_code == 200
    assert message in response.content.decode()
    stimulus.refresh_from_db()
    assert stimulus.labels == before

"""Stimulus images are content-addressed, so browsers (not shared caches) may keep them for good."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_study, start_participant

pytestmark = pytest.mark.django_db


def test_the_plan_images_are_served_as_immutable():
    participant = start_participant(make_study())
    client = Client()
    images = client.get(reverse("api-plan", args=[participant.token])).json()["images"]
    for url in images.values():
        response = client.get(url)
        assert response.status_code == 200
        assert response["Cache-Control"] == "private, max-age=31536000, immutable"

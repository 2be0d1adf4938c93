"""The research upload views read the declared Content-Length before the body: a number too
long for Python's int() or no number at all is a clear answer, never a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from studyapp.models import StimulusSet, StudyMembership
from tests.factories import make_study

pytestmark = pytest.mark.django_db
ABSURD = "9" * 5000  # int() refuses more than 4,300 digits


def uploads(staff_client):
    study = make_study()
    user = staff_client.get(reverse("research-home")).wsgi_request.user
    StudyMembership.objects.create(study=study, user=user, role="owner")
    csv = SimpleUploadedFile("export.csv", b"Participant id\nPROLIFIC_A\n", "text/csv")
    return {
        "attributes": (reverse("research-attributes-attach", args=[study.slug]), {"export": csv}),
        "stimuli": (reverse("admin:studyapp_stimulusset_import"), {"name": "s"}),
        "weights": (reverse("research-models"), {"name": "m"}),
    }


@pytest.mark.parametrize("view", ["attributes", "stimuli", "weights"])
def test_an_absurd_declared_length_is_413(staff_client, view):
    url, data = uploads(staff_client)[view]
    response = staff_client.post(url, data, CONTENT_LENGTH=ABSURD)
    assert response.status_code == 413, response.content[:300]
    page = response.content.decode()
    assert "a length of more than 19 digits" in page
    assert "9,223,372,036,854,775,807" not in page  # not sys.maxsize as if it had been declared
    assert StimulusSet.objects.count() == 1  # the study's own


@pytest.mark.parametrize("view", ["attributes", "stimuli", "weights"])
def test_a_declared_length_over_the_limit_is_stated_in_bytes(staff_client, view):
    url, data = uploads(staff_client)[view]
    response = staff_client.post(url, data, CONTENT_LENGTH="9" * 19)
    assert response.status_code == 413, response.content[:300]
    assert "9,999,999,999,999,999,999 bytes" in response.content.decode()


@pytest.mark.parametrize("declared", ["abc", "-5", "١٢"])  # the last: Arabic-Indic digits
@pytest.mark.parametrize("view", ["attributes", "stimuli", "weights"])
def test_a_declared_length_that_is_no_number_is_no_server_error(staff_client, view, declared):
    url, data = uploads(staff_client)[view]
    response = staff_client.post(url, data, CONTENT_LENGTH=declared)
    assert response.status_code < 500, response.content[:300]
    assert StimulusSet.objects.count() == 1  # the study's own

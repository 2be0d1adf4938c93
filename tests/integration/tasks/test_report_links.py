"""A report links back to its dashboard; absolute when the site's address is configured, so the
link also works in a downloaded report."""

import pytest

from tasks.computations.report import dashboard_address
from tests.factories import make_study

pytestmark = pytest.mark.django_db


def test_the_dashboard_link_is_site_relative_or_absolute_with_the_site_url(settings):
    study = make_study()
    settings.FACESIM_SITE_URL = ""
    assert dashboard_address(study) == f"/research/studies/{study.slug}/"
    settings.FACESIM_SITE_URL = "https://faces.example.org"
    assert dashboard_address(study) == f"https://faces.example.org/research/studies/{study.slug}/"

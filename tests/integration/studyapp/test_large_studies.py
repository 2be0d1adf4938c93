"""A study bigger than PostgreSQL's 65,535 parameters per statement is stored and deleted."""

import pytest
from django.contrib.auth import get_user_model

from studyapp.models import Participant, Response, Trial
from studyapp.services.studies import study_delete
from tests.factories import make_study, start_participant

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
N_TRIALS = 70_000  # more rows than one statement may carry parameters


def test_a_study_with_more_trials_than_statement_parameters_is_deleted_whole():
    study = make_study(trials_per_participant=4)
    participant = start_participant(study)
    first = participant.trials.count()
    items = participant.trials.first().items
    trials = Trial.objects.bulk_create(  # 8 parameters a row: several batches
        Trial(
            participant=participant,
            index=first + i,
            block=1,
            trial_type="triplet",
            role="main",
            items=items,
        )
        for i in range(N_TRIALS)
    )
    Response.objects.bulk_create(
        Response(trial=trial, choice=trial.items[0], rt_ms=900.0) for trial in trials
    )
    assert Trial.objects.filter(participant=participant).count() == first + N_TRIALS

    study_delete(study=study, user=get_user_model().objects.create_user("owner"))

    assert not Participant.objects.exists()
    assert not Trial.objects.exists()
    assert not Response.objects.exists()

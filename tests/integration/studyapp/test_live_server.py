"""Against a live server: concurrent duplicate POSTs, and simulated participants in parallel."""

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from studyapp.bots import ParticipantBot
from studyapp.models import Participant, Response, Trial
from studyapp.planning import Coverage
from tests.factories import answer_for, make_study, start_participant

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_duplicate_posts_store_exactly_one_response(live_server):
    study = make_study(trial_types=["triplet"])
    participant = start_participant(study)
    trials = list(participant.trials.order_by("index")[:3])
    bot = ParticipantBot(live_server.url, study.slug, "dup")
    bot.request(f"/p/{participant.token}/")  # obtain the CSRF cookie
    statuses: list[int] = []
    for trial in trials:
        barrier = threading.Barrier(16)

        def send(trial=trial, barrier=barrier):
            barrier.wait()
            status, _, _ = bot.post_json(
                f"/api/p/{participant.token}/responses", answer_for(trial, study)
            )
            return status

        with ThreadPoolExecutor(16) as pool:
            round_statuses = list(pool.map(lambda _: send(), range(16)))
        assert sorted(round_statuses) == [200] * 15 + [201]
        statuses += round_statuses
    assert Response.objects.filter(trial__participant=participant).count() == 3
    assert all(Response.objects.filter(trial=t).count() == 1 for t in trials)


@pytest.mark.parametrize("trial_type", ["triplet", "rating", "afc"])
def test_simulated_participants_complete_in_parallel(live_server, trial_type):
    study = make_study(
        trial_types=[trial_type],
        trials_per_participant=24,
        practice_trials=1,
        repeat_rate=0.1,
        catch_rate=0.1,
        target_participants=20,
    )
    bots = [ParticipantBot(live_server.url, study.slug, f"bot-{i}", seed=i) for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda bot: bot.run(), bots))

    assert all(r.completion_code == "CODE123" for r in results)
    assert all(r.duplicates == 0 for r in results)
    participants = Participant.objects.filter(study=study)
    assert participants.count() == 8
    assert set(participants.values_list("status", flat=True)) == {"completed"}
    for participant in participants:
        planned = Trial.objects.filter(participant=participant).count()
        stored = Response.objects.filter(trial__participant=participant)
        assert planned == 1 + 24 + 2 + 2
        assert stored.count() == planned
        assert stored.values("trial").distinct().count() == planned
    # Main trials across the 8 participants cover the pairs the design balances evenly (12
    # stimuli, 66 pairs): triplet and rating co-occurrences, 2AFC reference-candidate pairs.
    main = Trial.objects.filter(participant__study=study, role="main").values_list(
        "items", flat=True
    )
    ids = sorted(study.stimulus_set.stimuli.values_list("pk", flat=True))
    coverage = Coverage(len(ids))
    coverage.add_many(
        np.searchsorted(ids, np.array(list(main))), references_first=trial_type == "afc"
    )
    balanced = coverage.offered if trial_type == "afc" else coverage.pairs
    pairs = balanced[np.triu_indices(12, 1)]
    # the greedy plan keeps every pair within 2 of the others (see
    # test_planning.test_small_parallel_study_keeps_pairs_within_two).
    assert pairs.max() - pairs.min() <= 2


def test_a_bot_that_reconnects_resumes_without_repeating(live_server):
    study = make_study(trials_per_participant=12)
    first = ParticipantBot(live_server.url, study.slug, "resumer", seed=1)
    token = first.join()
    plan = first.get_json(f"/api/p/{token}/plan")
    for trial in plan["trials"][:5]:
        first.post_json(f"/api/p/{token}/responses", answer_for(trial, study))
    second = ParticipantBot(live_server.url, study.slug, "resumer", seed=2)  # another device
    result = second.run()
    assert result.token == token
    assert result.trials == len(plan["trials"]) - 5
    assert result.duplicates == 0
    assert Response.objects.filter(trial__participant__token=token).count() == len(plan["trials"])


def test_media_and_static_files_are_served(live_server):
    study = make_study()
    participant = start_participant(study)
    plan = json.loads(
        urllib.request.urlopen(f"{live_server.url}/api/p/{participant.token}/plan").read()
    )
    image_url = next(iter(plan["images"].values()))
    assert urllib.request.urlopen(live_server.url + image_url).read()[:4] == b"\x89PNG"
    script = urllib.request.urlopen(f"{live_server.url}/static/runner/main.js").read()
    assert b"runTrials" in script


def test_simulated_participants_pass_a_screening_by_answering_correctly(live_server):
    questions = [
        {"question": "Which face do you choose?", "options": ["Similar", "Odd one"], "answer": 1},
        {"question": "Do practice trials count?", "options": ["Yes", "No"], "answer": 1},
    ]
    study = make_study(
        trials_per_participant=8,
        min_viewport_width=1024,
        min_viewport_height=700,
        device_requirement="desktop",
        comprehension_questions=questions,
        comprehension_attempts=1,
    )
    right = [question["answer"] for question in questions]
    bots = [
        ParticipantBot(live_server.url, study.slug, f"bot-{i}", seed=i, comprehension_answers=right)
        for i in range(3)
    ]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda bot: bot.run(), bots))
    assert all(r.completion_code == "CODE123" for r in results)
    assert set(study.participants.values_list("screening", "status")) == {("passed", "completed")}

    wrong = ParticipantBot(live_server.url, study.slug, "wrong", comprehension_answers=[0, 1])
    with pytest.raises(RuntimeError, match=r"screened out \(comprehension\)"):
        wrong.run()
    small = ParticipantBot(
        live_server.url, study.slug, "small", comprehension_answers=right, viewport=(800, 600)
    )
    with pytest.raises(RuntimeError, match=r"screened out \(viewport\)"):
        small.run()


def test_simulated_participants_complete_a_bubbles_study(live_server):
    study = make_study(trial_types=["bubbles"], bubbles={"label": "gender", "sigma": 3})
    bots = [ParticipantBot(live_server.url, study.slug, f"bubbles-{i}", seed=i) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda bot: bot.run(), bots))
    assert all(r.completion_code == "CODE123" for r in results)
    stored = Response.objects.filter(trial__participant__study=study)
    assert stored.count() == Trial.objects.filter(participant__study=study).count() == 4 * 11
    assert set(stored.values_list("bubbles_count", flat=True)) == {1}
    assert set(stored.values_list("correct", flat=True)) == {True, False}

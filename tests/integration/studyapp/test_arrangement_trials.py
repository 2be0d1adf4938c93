"""Multi-arrangement trials on the platform: the plan (all faces first, later trials chosen by
lift-the-weakest when the one before is stored), exactly-once storage, and refused answers."""

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.human.arrangement import (
    Arrangement,
    arrangement_evidence,
    arrangement_matrices,
    lift_the_weakest,
)
from analysis.io import read_responses
from studyapp.arrangement import lift_the_weakest as server_lift
from studyapp.arrangement import pair_evidence
from studyapp.bots import ParticipantBot
from studyapp.forms import StudyForm
from studyapp.models import Participant, Response, Trial
from studyapp.selectors.exports import responses_csv_chunks
from studyapp.selectors.studies import study_design_problems
from tests.factories import analysis_posted, make_study, spread_positions, start_participant
from tests.integration.studyapp.api_client import plan, post
from tests.integration.studyapp.test_api_fuzz import json_values, nested, raw_numbers

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def arrangement_study(**fields):
    defaults = {
        "trial_types": ["arrangement"],
        "arrangement": {"subset_size": 4},
        "trials_per_participant": 4,
        "practice_trials": 1,
    }
    return make_study(**{**defaults, **fields})


def answer(trial, positions=None, **changes):
    positions = positions or spread_positions(trial["items"])
    moves = [[100.0 * k, int(key), *xy] for k, (key, xy) in enumerate(positions.items())]
    body = {
        "trial": trial["index"],
        "rt_ms": 4000.0,
        "arrangement": {"positions": positions, "moves": moves},
    }
    return {**body, **changes}


def test_first_main_trial_shows_every_face_and_later_ones_wait():
    study = arrangement_study()
    participant = start_participant(study)
    trials = list(Trial.objects.filter(participant=participant).order_by("index"))
    assert [t.role for t in trials] == ["practice", "main", "main", "main", "main"]
    assert len(trials[0].items) == 5  # practice: ARRANGEMENT_PRACTICE_ITEMS random faces
    assert sorted(trials[1].items) == sorted(
        study.stimulus_set.stimuli.values_list("pk", flat=True)
    )
    assert [t.items for t in trials[2:]] == [[], [], []]


def test_first_size_chooses_how_many_faces_the_first_trial_shows():
    study = arrangement_study(arrangement={"first_size": 6, "subset_size": 3}, practice_trials=0)
    first = Trial.objects.filter(participant=start_participant(study)).order_by("index").first()
    assert len(first.items) == len(set(first.items)) == 6


def test_next_trial_is_lift_the_weakest_on_the_stored_arrangement(api):
    """The server's choice equals analysis.lift_the_weakest on the stored positions, seeded by
    (plan seed, trial index): the subset starts at the pair placed closest (least evidence)."""
    study = arrangement_study(practice_trials=0)
    participant = start_participant(study)
    first = plan(api, participant)["trials"][0]
    positions = spread_positions(first["items"])
    assert post(api, participant, answer(first, positions)).status_code == 201
    second = plan(api, participant)["trials"][1]
    assert len(second["items"]) == 4
    ids = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
    stored = Response.objects.get(trial__index=0, trial__participant=participant).positions
    arrangement = Arrangement(
        tuple(ids.index(int(k)) for k in stored), np.array(list(stored.values()))
    )
    evidence = arrangement_evidence([arrangement], n_items=len(ids))
    seed = np.random.default_rng([participant.plan_seed, 1])
    expected = lift_the_weakest(evidence, n_items=len(ids), size=4, random_state=seed)
    assert second["items"] == [ids[k] for k in expected]
    weakest = np.argmin(evidence)
    rows, cols = np.triu_indices(len(ids), 1)
    assert {ids[rows[weakest]], ids[cols[weakest]]} == set(second["items"][:2])
    assert plan(api, participant)["trials"][2]["items"] == []  # not before the second is stored


def test_whole_session_stored_once_with_positions_and_moves(api):
    study = arrangement_study()
    participant = start_participant(study)
    for index in range(5):
        trial = plan(api, participant)["trials"][index]
        assert len(trial["items"]) >= 4
        body = answer(trial)
        assert post(api, participant, body).status_code == 201
        again = post(api, participant, body)
        assert again.status_code == 200
        assert again.json()["duplicate"]
    responses = Response.objects.filter(trial__participant=participant).order_by("trial__index")
    assert responses.count() == 5
    last = responses.last()
    assert set(last.positions) == {str(i) for i in last.trial.items}
    assert sorted(m[1] for m in last.moves) == sorted(int(k) for k in last.positions)
    complete = api.post(reverse("api-complete", args=[participant.token]))
    assert complete.status_code == 200
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_arrangement_store_and_plan_once(live_server):
    """Eight simultaneous POSTs of one arrangement: one stored (201), one next trial chosen."""
    study = arrangement_study(practice_trials=0)
    participant = start_participant(study)
    first = Trial.objects.get(participant=participant, index=0)
    body = answer({"index": 0, "items": first.items})
    bot = ParticipantBot(live_server.url, study.slug, "dup")
    bot.request(f"/p/{participant.token}/")  # obtain the CSRF cookie
    barrier = threading.Barrier(8)

    def send(_):
        barrier.wait()
        status, _, _ = bot.post_json(f"/api/p/{participant.token}/responses", body)
        return status

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(send, range(8)))
    assert statuses == [200] * 7 + [201]
    assert Response.objects.filter(trial__participant=participant).count() == 1
    filled = Trial.objects.filter(participant=participant).exclude(items=[])
    assert sorted(filled.values_list("index", flat=True)) == [0, 1]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda body, items: {**body, "arrangement": "left"}, 400, "invalid_type"),
        (lambda body, items: {**body, "arrangement": {"positions": []}}, 400, "invalid_type"),
        (lambda body, items: {**body, "arrangement": {"where": {}}}, 400, "unknown_field"),
        (
            lambda body, items: {**body, "arrangement": {"positions": {str(items[0]): [1.5, 0]}}},
            400,
            "out_of_range",
        ),
        (
            lambda body, items: {
                **body,
                "arrangement": {"positions": {str(items[0]): ["a", float("nan")]}},
            },
            400,
            "invalid_type",
        ),
        (
            lambda body, items: {
                **body,
                "arrangement": {
                    **body["arrangement"],
                    "moves": [[5, items[0], 0, 0], [1, items[0], 0, 0]],
                },
            },
            400,
            "out_of_range",
        ),
        (
            lambda body, items: {
                **body,
                "arrangement": {"positions": {str(i): [0, 0] for i in items[:-1]}},
            },
            422,
            "wrong_faces",
        ),
        (
            lambda body, items: {
                **body,
                "arrangement": {**body["arrangement"], "moves": [[1, 10**9, 0, 0]]},
            },
            422,
            "wrong_faces",
        ),
        (lambda body, items: {**body, "choice": items[0]}, 422, "unexpected_choice"),
        (lambda body, items: {"trial": body["trial"], "rt_ms": 900.0}, 422, "missing_positions"),
    ],
)
def test_malformed_arrangements_are_refused_and_store_nothing(api, change, status, code):
    study = arrangement_study(practice_trials=0)
    participant = start_participant(study)
    trial = plan(api, participant)["trials"][0]
    body = change(answer(trial), trial["items"])
    raw = json.dumps(body, allow_nan=True)
    response = api.post(
        reverse("api-responses", args=[participant.token]), raw, content_type="application/json"
    )
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not Response.objects.filter(trial__participant=participant).exists()
    assert Trial.objects.filter(participant=participant).exclude(items=[]).count() == 1


def test_a_trial_not_yet_planned_and_other_types_refuse_positions(api):
    study = arrangement_study(trial_types=["arrangement", "triplet"], practice_trials=0)
    participant = start_participant(study)
    trials = plan(api, participant)["trials"]
    empty = next(t for t in trials if t["type"] == "arrangement" and not t["items"])
    refused = post(api, participant, answer({**empty, "items": [1, 2, 3]}))
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "not_planned"
    triplet = next(t for t in trials if t["type"] == "triplet" and t["role"] == "main")
    body = {**answer({**triplet}), "choice": triplet["items"][0]}
    refused = post(api, participant, body)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unexpected_arrangement"


def test_study_form_checks_the_arrangement_settings():
    study = arrangement_study()
    data = {
        "title": "Arrangement",
        "slug": "arrangement-form",
        "stimulus_set": study.stimulus_set.pk,
        "trial_types": ["arrangement"],
        "rating_scale": "1-7",
        "trials_per_participant": 5,
        "target_participants": 5,
        "practice_trials": 0,
        "break_every": 0,
        "repeat_rate": 0,
        "catch_rate": 0,
        "adaptive_batch": 0,
        "min_exposure_ms": 150,
        "min_rt_ms": 100,
        "min_viewport_width": 0,
        "min_viewport_height": 0,
        "device_requirement": "any",
        "comprehension_attempts": 2,
        "consent_text": "Agree?",
        "instructions": "Arrange.",
        **analysis_posted(),
    }
    good = StudyForm({**data, "arrangement": '{"first_size": 8, "subset_size": 5}'})
    assert good.is_valid(), good.errors
    assert good.save().arrangement == {"first_size": 8, "subset_size": 5}
    bad = StudyForm({**data, "slug": "bad", "arrangement": '{"subset_size": 2, "colour": 1}'})
    assert not bad.is_valid()
    text = " ".join(bad.errors["arrangement"])
    assert "'subset_size' must be an integer in [3, 200]; got 2" in text
    assert "Unknown arrangement setting 'colour'" in text
    study.arrangement = {"subset_size": "eight"}
    assert any("subset_size" in p for p in study_design_problems(study=study))


def test_export_has_positions_and_moves_by_stimulus_name_and_the_analysis_reads_them(api):
    study = arrangement_study(practice_trials=0, trials_per_participant=3)
    for _ in range(2):
        participant = start_participant(study)
        for index in range(3):
            trial = plan(api, participant)["trials"][index]
            assert post(api, participant, answer(trial)).status_code == 201
    text = b"".join(responses_csv_chunks(study=study)).decode()
    rows = read_responses(pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False))
    assert len(rows) == 6
    assert (rows[["item_1", "item_2", "item_3", "choice"]] == "").all().all()
    names = dict(study.stimulus_set.stimuli.values_list("pk", "name"))
    first = Trial.objects.get(participant=participant, index=0)
    stored = Response.objects.get(trial=first)
    exported = rows[(rows["participant"] == participant.pseudonym) & (rows["trial_index"] == 0)]
    positions = json.loads(exported["positions"].iloc[0])
    assert positions == {names[int(k)]: xy for k, xy in stored.positions.items()}
    moves = json.loads(exported["moves"].iloc[0])
    assert moves == [[m[0], names[m[1]], m[2], m[3]] for m in stored.moves]
    human = arrangement_matrices(rows)
    assert human.n_participants == 2
    assert set(human.stimuli) == set(names.values())  # the first trials show every face


@pytest.mark.django_db(transaction=True)
def test_simulated_participants_complete_an_arrangement_study(live_server):
    """Bots (random placements) in parallel: every trial planned in turn and stored once."""
    study = arrangement_study(trials_per_participant=4)
    bots = [ParticipantBot(live_server.url, study.slug, f"arr-{i}", seed=i) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda bot: bot.run(), bots))
    assert all(r.completion_code == "CODE123" for r in results)
    assert all(r.created == r.trials == 5 for r in results)
    for participant in study.participants.all():
        trials = Trial.objects.filter(participant=participant).order_by("index")
        assert [len(t.items) for t in trials] == [5, 12, 4, 4, 4]
        assert Response.objects.filter(trial__participant=participant).count() == 5


@pytest.fixture
def fuzz_session(settings):
    settings.FACESIM_RATE_API_PER_MINUTE = 10**6
    study = arrangement_study(practice_trials=0)
    participant = start_participant(study)
    return participant, Trial.objects.get(participant=participant, index=0)


@FUZZ
@given(
    part=st.sampled_from(["positions", "moves", "one_position", "one_move", "arrangement"]),
    raw_value=raw_numbers | nested | json_values.map(lambda v: json.dumps(v, allow_nan=True)),
)
def test_hostile_arrangement_fields_never_fail_or_half_store(fuzz_session, part, raw_value):
    """A real arrangement with one part's JSON text replaced: never a 5xx; stored (with the
    next trial chosen) exactly when the answer is 201, and only valid positions."""
    participant, first = fuzz_session
    body = answer({"index": 0, "items": first.items})
    target = body["arrangement"]
    if part == "one_position":
        target["positions"][str(first.items[0])] = "__HOSTILE__"
    elif part == "one_move":
        target["moves"][0][2] = "__HOSTILE__"
    elif part == "arrangement":
        body["arrangement"] = "__HOSTILE__"
    else:
        target[part] = "__HOSTILE__"
    raw = json.dumps(body).replace('"__HOSTILE__"', raw_value)
    stored_before = Response.objects.filter(trial=first).exists()
    response = Client().post(
        reverse("api-responses", args=[participant.token]), raw, content_type="application/json"
    )
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
    stored = Response.objects.filter(trial=first).first()
    assert (stored is not None) == (stored_before or response.status_code == 201)
    planned_next = Trial.objects.filter(participant=participant, index=1).exclude(items=[])
    assert planned_next.exists() == (stored is not None)
    if stored is not None:
        assert set(stored.positions) == {str(i) for i in first.items}
        assert all(x * x + y * y <= 1 + 1e-6 for x, y in stored.positions.values())


def test_a_set_too_large_to_arrange_at_once_needs_first_size(monkeypatch):
    monkeypatch.setattr("studyapp.arrangement.MAX_SIZE", 10)  # the set has 12 faces
    study = arrangement_study(arrangement={"subset_size": 4})
    assert study_design_problems(study=study) == [
        "The first arrangement would show all 12 faces; at most 10 can be arranged at once: "
        "set 'first_size'."
    ]
    study.arrangement = {"first_size": 10, "subset_size": 4}
    assert study_design_problems(study=study) == []


def test_the_dashboard_pages_show_an_arrangement_study_with_data(api, staff_client):
    study = arrangement_study(practice_trials=0, trials_per_participant=2)
    participant = start_participant(study)
    for index in range(2):
        body = answer(plan(api, participant)["trials"][index])
        assert post(api, participant, body).status_code == 201
    pages = [
        reverse("research-study", args=[study.slug]),
        reverse("research-study-status", args=[study.slug]),
        reverse("research-study-edit", args=[study.slug]),
        *(
            reverse("research-study-chart", args=[study.slug, name])
            for name in ("participants", "responses", "rts", "dropout")
        ),
    ]
    for url in pages:
        assert staff_client.get(url).status_code == 200, url


@pytest.mark.parametrize("seed", range(10))
def test_the_servers_evidence_and_subset_rule_equal_the_analysis_library(seed):
    """studyapp.arrangement repeats analysis.human.arrangement's evidence weights and
    lift-the-weakest (web workers do not import analysis): same evidence, same subsets."""
    rng = np.random.default_rng(seed)
    n = 15
    arrangements = []
    for size in (n, 6, 5, 6):
        items = rng.choice(n, size, replace=False)
        xy = rng.uniform(-0.7, 0.7, (size, 2))
        xy[1] = xy[0]  # two faces on one spot: the floor of the weight
        arrangements.append(Arrangement(tuple(items.tolist()), xy))
    server = pair_evidence([(list(a.items), a.positions.tolist()) for a in arrangements], n_items=n)
    library = arrangement_evidence(arrangements, n_items=n)
    rows, cols = np.triu_indices(n, 1)
    np.testing.assert_allclose(server[rows, cols], library, rtol=1e-12)
    np.testing.assert_allclose(server, server.T)
    evidence = np.round(library, 1)  # coarse: ties that the generator must break alike
    square = np.zeros((n, n))
    square[rows, cols] = square[cols, rows] = evidence
    for size in (3, 6, 15):
        picked = server_lift(square, size=size, rng=np.random.default_rng([seed, size]))
        expected = lift_the_weakest(
            evidence, n_items=n, size=size, random_state=np.random.default_rng([seed, size])
        )
        assert picked == expected

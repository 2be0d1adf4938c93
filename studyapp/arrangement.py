"""A study's multi-arrangement settings, the checks of an arrangement answer, and the choice of
a participant's next subset (Kriegeskorte & Mur 2012).

The runner shows a trial's faces in a tray beside a circular arena; the participant drags each
one into the arena. The answer is each face's final position in arena radii from the centre
(``positions``) and the drops in order (``moves``). The first main trial shows every face (or
``first_size``); each later one is chosen when the one before is stored, by lift-the-weakest
on the evidence of the participant's arrangements so far (the rule and weights of
``analysis.human.arrangement``, repeated here for the web workers; a test keeps them equal).
"""

import json
from dataclasses import dataclass

import numpy as np
from django.db import connection

from studyapp.errors import Unprocessable
from studyapp.models import Response, Stimulus, Study, Trial
from studyapp.payloads import MAX_ARRANGEMENT_FACES, ResponsePayload
from studyapp.planning import ITEMS_PER_TRIAL

DEFAULTS = {"first_size": None, "subset_size": 8}
# As in ``analysis.human.arrangement`` (a test keeps the two equal). Not imported from there:
# ``analysis`` loads scipy and pandas, which web workers do not import.
MIN_DISTANCE = 0.01  # arena radii: the floor of a distance's evidence weight (squared)
MIN_SIZE = ITEMS_PER_TRIAL["arrangement"]
MAX_SIZE = MAX_ARRANGEMENT_FACES


@dataclass(frozen=True)
class ArrangementSettings:
    """Checked arrangement settings (see ``Study.arrangement``)."""

    first_size: int | None
    subset_size: int


def arrangement_problems(data: object) -> list[str]:
    """What is wrong with a study's ``arrangement`` JSON (empty: it can be read)."""
    if not isinstance(data, dict):
        return ["The arrangement settings must be a JSON object."]
    problems = [
        f"Unknown arrangement setting '{key}'." for key in sorted(set(data) - set(DEFAULTS))
    ]
    for key in DEFAULTS:
        value = data.get(key)
        if value is None and key == "first_size":
            continue
        value = DEFAULTS[key] if value is None else value
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not MIN_SIZE <= value <= MAX_SIZE
        ):
            problems.append(
                f"'{key}' must be an integer in [{MIN_SIZE}, {MAX_SIZE}]; got {value!r}."
            )
    return problems


def arrangement_design_problems(*, study: Study) -> list[str]:
    """Why a study with arrangement trials could not run them on its stimulus set."""
    problems = arrangement_problems(study.arrangement)
    n_items = study.stimulus_set.stimuli.count()
    if not problems and study.arrangement.get("first_size") is None and n_items > MAX_SIZE:
        problems.append(
            f"The first arrangement would show all {n_items} faces; at most {MAX_SIZE} can be "
            "arranged at once: set 'first_size'."
        )
    return problems


def arrangement_settings(study: Study) -> ArrangementSettings:
    """The study's settings with their defaults (checked when the study was saved)."""
    values = {**DEFAULTS, **study.arrangement}
    first = values["first_size"]
    return ArrangementSettings(
        first_size=None if first is None else int(first), subset_size=int(values["subset_size"])
    )


def arrangement_check(trial: Trial, payload: ResponsePayload) -> None:
    """An arrangement answer must place exactly the trial's faces (shapes and the arena are
    checked in ``studyapp.payloads``); other trials take no arrangement."""
    if trial.trial_type != "arrangement":
        if payload.positions is not None:
            raise Unprocessable(
                "unexpected_arrangement",
                "Only arrangement trials take 'arrangement'.",
                "arrangement",
            )
        return
    if payload.choice is not None or payload.rating is not None:
        raise Unprocessable(
            "unexpected_choice", "An arrangement trial takes positions, not a choice or rating."
        )
    if payload.positions is None:
        raise Unprocessable(
            "missing_positions",
            "An arrangement trial needs 'arrangement.positions'.",
            "arrangement",
        )
    shown = {str(item) for item in trial.items}
    if not shown:
        raise Unprocessable(
            "not_planned",
            "This arrangement trial's faces are chosen when the one before is stored.",
            "trial",
        )
    if set(payload.positions) != shown:
        raise Unprocessable(
            "wrong_faces",
            f"'arrangement.positions' must place exactly this trial's faces {sorted(shown)}; "
            f"got {sorted(payload.positions)[:20]}.",
            "arrangement",
        )
    strays = sorted({str(move[1]) for move in payload.moves} - shown)
    if strays:
        raise Unprocessable(
            "wrong_faces",
            f"'arrangement.moves' moves faces not in this trial: {strays[:5]}.",
            "arrangement",
        )


NEXT_EMPTY_TRIAL = """
SELECT t.id, t.index, p.plan_seed, s.arrangement, s.stimulus_set_id
FROM studyapp_trial t
JOIN studyapp_participant p ON p.id = t.participant_id
JOIN studyapp_study s ON s.id = p.study_id
WHERE t.participant_id = %s AND t.trial_type = 'arrangement' AND cardinality(t.items) = 0
ORDER BY t.index
LIMIT 1
FOR UPDATE OF t
"""


def arrangement_plan_next(*, participant_id: int) -> Trial | None:
    """Fill the participant's next empty arrangement trial by lift-the-weakest on the evidence of
    their stored main arrangements; call in the transaction that stored the latest one.

    The tie-breaking seed is (the participant's plan seed, the trial's index), so the choice
    is reproducible from the stored answers. Returns the filled trial (None: none was empty).
    """
    with connection.cursor() as cursor:
        cursor.execute(NEXT_EMPTY_TRIAL, [participant_id])
        row = cursor.fetchone()
    if row is None:
        return None
    trial_id, index, plan_seed, settings_json, set_id = row
    stimulus_ids = list(
        Stimulus.objects.filter(stimulus_set_id=set_id).order_by("pk").values_list("pk", flat=True)
    )
    position_of = {pk: k for k, pk in enumerate(stimulus_ids)}
    stored = Response.objects.filter(
        trial__participant_id=participant_id, trial__trial_type="arrangement", trial__role="main"
    ).values_list("positions", flat=True)
    evidence = pair_evidence(
        [([position_of[int(key)] for key in p], list(p.values())) for p in stored],
        n_items=len(stimulus_ids),
    )
    settings = Study(arrangement=json.loads(settings_json))  # raw queries leave jsonb as text
    size = min(arrangement_settings(settings).subset_size, len(stimulus_ids))
    rng = np.random.default_rng([plan_seed, index])
    items = [stimulus_ids[k] for k in lift_the_weakest(evidence, size=size, rng=rng)]
    Trial.objects.filter(pk=trial_id).update(items=items)
    return Trial(id=trial_id, index=index, items=items)


def pair_evidence(arrangements: list[tuple[list[int], list]], *, n_items: int) -> np.ndarray:
    """(n_items, n_items) summed evidence weights, max(distance, MIN_DISTANCE)², of every pair
    in the arrangements, given as (stimulus positions in the list, [x, y] per stimulus)."""
    evidence = np.zeros((n_items, n_items))
    for codes, xy in arrangements:
        xy = np.asarray(xy, dtype=float)
        distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
        evidence[np.ix_(codes, codes)] += np.maximum(distances, MIN_DISTANCE) ** 2
    return evidence


def lift_the_weakest(evidence: np.ndarray, *, size: int, rng: np.random.Generator) -> list[int]:
    """``size`` stimulus positions: the pair of weakest evidence, then one at a time the face
    whose pairs with the chosen ones have the least mean evidence (ties broken by ``rng``)."""
    n_items = len(evidence)
    rows, cols = np.triu_indices(n_items, 1)
    jitter = rng.random(len(rows))  # ties only: a strict order on equal evidence
    weakest = np.lexsort((jitter, evidence[rows, cols]))[0]
    chosen = [int(rows[weakest]), int(cols[weakest])]
    while len(chosen) < size:
        rest = np.setdiff1d(np.arange(n_items), chosen)
        mean_evidence = evidence[np.ix_(rest, chosen)].mean(axis=1)
        ties = rest[mean_evidence == mean_evidence.min()]
        chosen.append(int(rng.choice(ties)))
    return chosen

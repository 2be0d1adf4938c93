"""Adaptive triplet selection: fit the study's answers, choose the next batch's triplets.

Runs entirely in the job's planning step (the ``cpu`` queue): a t-STE embedding of every
answered main/repeat triplet of the completed sessions (``analysis.human.embedding``), then
``analysis.human.adaptive.select_triplets`` (highest answer entropy first) for
``adaptive_batch`` upcoming participants, stored as the study's next ``AdaptiveState``.  The
seed comes from the study and the number of fitted participants, so the same answers give the
same state.
"""

import math

import numpy as np

from analysis.human.adaptive import answer_entropy, answers_table, select_triplets
from analysis.human.embedding import fit_embedding
from studyapp.models import AdaptiveState, Job
from studyapp.selectors.adaptive import fitted_participants, triplet_answers
from studyapp.services.adaptive import adaptive_state_save
from tasks.computations.base import Computation, Plan

MODEL = "tste"
N_DIMS = 6
MAX_ITER = 300


class AdaptiveSelection(Computation):
    def plan(self, job: Job) -> Plan:
        study = job.study
        if study is None:
            raise ValueError("An adaptive selection job needs its study.")
        stored = AdaptiveState.objects.filter(job=job).first()
        if stored is not None:  # a second delivery of the same message
            return Plan([], 0, reused=f"Model state v{stored.version} was already stored.")
        stimulus_ids = list(study.stimulus_set.stimuli.order_by("pk").values_list("pk", flat=True))
        position_of = {pk: position for position, pk in enumerate(stimulus_ids)}
        answers = triplet_answers(study=study)
        if not answers:
            raise ValueError("The study has no answered triplet trials of completed sessions.")
        triplets = np.array([[position_of[pk] for pk in items] for items, _ in answers])
        odd = np.array([position_of[choice] for _, choice in answers])
        participants = fitted_participants(study=study).count()
        seed = int(np.random.SeedSequence([study.pk, participants]).generate_state(1)[0])
        state = fit_embedding(
            answers_table(triplets, odd),
            [str(pk) for pk in stimulus_ids],
            N_DIMS,
            model=MODEL,
            random_state=seed,
            max_iter=MAX_ITER,
        )
        per_participant = math.ceil(study.trials_per_participant / len(study.trial_types))
        pool = select_triplets(
            state,
            n_sets=study.adaptive_batch,
            set_size=per_participant,
            item_uses=np.bincount(triplets.ravel(), minlength=len(stimulus_ids)),
            random_state=seed,
        )
        chosen = np.array([triplet for slot in pool for triplet in slot])
        saved = adaptive_state_save(
            study=study,
            job=job,
            seed=seed,
            participants=participants,
            answers=len(answers),
            model=MODEL,
            stimulus_ids=stimulus_ids,
            embedding=state.embedding,
            pool=[[[stimulus_ids[i] for i in triplet] for triplet in slot] for slot in pool],
            mean_entropy=float(answer_entropy(state, chosen).mean()),
        )
        return Plan(
            [],
            0,
            reused=f"Fitted {len(answers)} answers of {participants} participants: model "
            f"state v{saved.version} chose {len(chosen)} triplets for {len(pool)} participants.",
        )

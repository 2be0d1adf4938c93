"""Screen a participant before their first trial: window size and device, then the
comprehension check. A failed screening ends the session (no completion code) and frees its
place in the study's target."""

from django.db import transaction

from studyapp.errors import Conflict, Forbidden, Unprocessable
from studyapp.models import Participant
from studyapp.screening import answers_correct, answers_problem, is_mobile

Screening = Participant.Screening


def screening_refusal(screening: str) -> Forbidden | Conflict | None:
    """The error for a request that needs a screened-in participant (None: they may go on)."""
    if screening in Participant.SCREENED_OUT:
        return Forbidden(
            "screened_out",
            f"This session ended at the screening ({Screening(screening).label}); "
            "it takes no more answers.",
        )
    if screening == Screening.PENDING:
        return Conflict(
            "screening_required",
            "This study screens participants before the first trial; pass the screening first.",
        )
    return None


def _locked_pending(participant: Participant) -> Participant | None:
    """The participant row, locked, if its screening is still to be decided (else None)."""
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    if locked.screening in Participant.SCREENED_OUT:
        raise screening_refusal(locked.screening)
    return locked if locked.screening == Screening.PENDING else None


def screening_check_setup(
    *, participant: Participant, width: int, height: int, user_agent: str, touch_only: bool
) -> Participant:
    """Check the window (``width`` x ``height`` CSS px) and the device against the study.

    Too small or a phone/tablet where the study wants a desktop: screened out. Passed: the
    session is screened in unless a comprehension check follows. The window seen is recorded
    either way; a session already screened in is returned as it is.
    """
    study = participant.study
    with transaction.atomic():
        locked = _locked_pending(participant)
        if locked is None:
            return Participant.objects.get(pk=participant.pk)
        locked.screening_viewport_width, locked.screening_viewport_height = width, height
        if study.device_requirement == study.DeviceRequirement.DESKTOP and is_mobile(
            user_agent=user_agent, touch_only=touch_only
        ):
            locked.screening = Screening.DEVICE
        elif width < study.min_viewport_width or height < study.min_viewport_height:
            locked.screening = Screening.VIEWPORT
        elif not study.comprehension_questions:
            locked.screening = Screening.PASSED
        locked.save(
            update_fields=["screening", "screening_viewport_width", "screening_viewport_height"]
        )
        return locked


def screening_answer_comprehension(
    *, participant: Participant, answers: object
) -> tuple[Participant, bool]:
    """Mark one attempt at the comprehension check; returns ``(participant, correct)``.

    A wrong attempt counts; the last allowed one screens the participant out. The window and
    device come first where the study checks them (409 otherwise).
    """
    study = participant.study
    questions = study.comprehension_questions
    if not questions:
        raise Conflict("no_comprehension_check", "This study has no comprehension check.")
    problem = answers_problem(questions, answers)
    if problem:
        raise Unprocessable("invalid_answers", problem, "answers")
    with transaction.atomic():
        locked = _locked_pending(participant)
        if locked is None:
            raise Conflict("screening_done", "The comprehension check is already passed.")
        if study.setup_screening_required and locked.screening_viewport_width is None:
            raise Conflict("setup_first", "The window and device are checked first.")
        correct = answers_correct(questions, answers)
        if correct:
            locked.screening = Screening.PASSED
        else:
            locked.comprehension_failures += 1
            if locked.comprehension_failures >= study.comprehension_attempts:
                locked.screening = Screening.COMPREHENSION
        locked.save(update_fields=["screening", "comprehension_failures"])
        return locked, correct

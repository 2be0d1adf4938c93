"""Studies from the researcher's side: create, change status, members, delete (all audited)."""

from django.db import transaction

from studyapp.models import AuditEvent, Study, StudyMembership
from studyapp.selectors.studies import study_design_problems


def audit_record(*, action: str, user, study: Study | None, **detail) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action, user=user, study=study, study_slug=study.slug if study else "", detail=detail
    )


@transaction.atomic
def study_create(*, owner, form) -> Study:
    """Save a study form and make its author the owner."""
    study = form.save()
    StudyMembership.objects.create(study=study, user=owner, role=StudyMembership.Role.OWNER)
    return study


def study_set_status(*, study: Study, status: str, user) -> Study:
    if status not in Study.Status.values:
        raise ValueError(
            f"The 'status' parameter must be one of {Study.Status.values}; got {status!r}."
        )
    if status == Study.Status.LIVE:
        problems = study_design_problems(study=study)
        if problems:
            raise ValueError(f"{study.title} cannot go live: {' '.join(problems)}")
    with transaction.atomic():
        previous = study.status
        Study.objects.filter(pk=study.pk).update(status=status)
        study.status = status
        audit_record(
            action=AuditEvent.Action.STATUS, user=user, study=study, before=previous, after=status
        )
    return study


def membership_set(*, study: Study, user, role: str, by) -> StudyMembership:
    """Give ``user`` a role (changing an existing one); a study always keeps an owner."""
    with transaction.atomic():
        membership, _ = StudyMembership.objects.update_or_create(
            study=study, user=user, defaults={"role": role}
        )
        _check_has_owner(study)
        audit_record(
            action=AuditEvent.Action.MEMBERSHIP,
            user=by,
            study=study,
            member=user.username,
            role=role,
        )
    return membership


def membership_remove(*, study: Study, user, by) -> None:
    with transaction.atomic():
        StudyMembership.objects.filter(study=study, user=user).delete()
        _check_has_owner(study)
        audit_record(
            action=AuditEvent.Action.MEMBERSHIP,
            user=by,
            study=study,
            member=user.username,
            role=None,
        )


def _check_has_owner(study: Study) -> None:
    if not study.memberships.filter(role=StudyMembership.Role.OWNER).exists():
        raise ValueError("A study must keep at least one owner.")


def study_delete(*, study: Study, user) -> None:
    """Delete a study with all its participants and responses (the audit entry stays)."""
    with transaction.atomic():
        counts = {
            "participants": study.participants.count(),
            "responses": study.participants.filter(trials__response__isnull=False).count(),
        }
        audit_record(
            action=AuditEvent.Action.DELETE, user=user, study=study, title=study.title, **counts
        )
        study.delete()

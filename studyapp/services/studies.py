"""Studies from the researcher's side: create, change status, members, delete (all audited)."""

from django.db import transaction

from studyapp.models import AuditEvent, Study, StudyMembership
from studyapp.selectors.studies import study_design_frozen, study_design_problems
from studyapp.services.artifacts import study_artifacts_delete
from studyapp.services.plan_pool import plan_pool_request


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
    """The one way a study's status changes: each change writes one audit event."""
    if status not in Study.Status.values:
        raise ValueError(
            f"The 'status' parameter must be one of {Study.Status.values}; got {status!r}."
        )
    if status == Study.Status.LIVE:
        problems = study_design_problems(study=study)
        if problems:
            raise ValueError(f"{study.title} cannot go live: {' '.join(problems)}")
    with transaction.atomic():
        previous = (
            Study.objects.select_for_update().values_list("status", flat=True).get(pk=study.pk)
        )
        study.status = status
        if previous != status:
            Study.objects.filter(pk=study.pk).update(status=status)
            audit_record(
                action=AuditEvent.Action.STATUS,
                user=user,
                study=study,
                before=previous,
                after=status,
            )
            if status == Study.Status.LIVE:  # participants' plans computed ahead of them
                transaction.on_commit(lambda: plan_pool_request(study=study))
    return study


def study_update(*, form) -> Study:
    """Save an edited study form; the design fields stay as they are once a participant started.

    The form disables those fields then (see ``StudyForm``); this refuses any other way round.
    """
    with transaction.atomic():
        study = form.save(commit=False)
        stored = Study.objects.select_for_update().get(pk=study.pk)
        if study_design_frozen(study=stored):
            changed = [
                name
                for name in Study.DESIGN_FIELDS
                if Study._meta.get_field(name).value_from_object(stored)
                != Study._meta.get_field(name).value_from_object(study)
            ]
            if changed:
                raise ValueError(
                    f"Participants have started this study, so its design ({', '.join(changed)}) "
                    "can no longer change; clone the study to change it."
                )
        # Only the form's own fields (and the columns it derives from other fields, e.g. the
        # analysis settings): the status, the declined count and anything else changed
        # meanwhile by others (status button, participants declining) stay as they are now.
        columns = {field.name for field in Study._meta.concrete_fields}
        own = [name for name in form.fields if name in columns]
        study.save(update_fields=[*own, *getattr(form, "derived_columns", ()), "updated_at"])
        form.save_m2m()
    return study


def study_models_set(*, study: Study, face_models, user) -> Study:
    """Choose the models the study compares with its human data (audited: before and after)."""
    with transaction.atomic():
        before = sorted(study.face_models.values_list("name", flat=True))
        study.face_models.set(face_models)
        after = sorted(model.name for model in face_models)
        if before != after:
            audit_record(
                action=AuditEvent.Action.MODELS, user=user, study=study, before=before, after=after
            )
    return study


def study_clone(*, study: Study, user) -> Study:
    """A new draft study with the same design, texts and models, no participants; ``user`` owns it.

    The completion code and redirect URL are left empty: a recruitment site gives a new study
    its own.
    """
    copied = [
        field.name
        for field in Study._meta.concrete_fields
        if field.editable
        and field.name not in ("id", "slug", "title", "status", "completion_code", "redirect_url")
    ]
    with transaction.atomic():
        clone = Study.objects.create(
            slug=free_slug(f"{study.slug[:40]}-copy"),
            title=f"Copy of {study.title}"[: Study._meta.get_field("title").max_length],
            **{name: getattr(study, name) for name in copied},
        )
        clone.face_models.set(study.face_models.all())
        StudyMembership.objects.create(study=clone, user=user, role=StudyMembership.Role.OWNER)
        audit_record(action=AuditEvent.Action.CLONE, user=user, study=clone, source=study.slug)
    return clone


def free_slug(base: str) -> str:
    """`base`, or `base-2`, `base-3` … whichever no study has yet."""
    taken = set(Study.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    return next(
        slug
        for slug in (base, *(f"{base}-{n}" for n in range(2, len(taken) + 3)))
        if slug not in taken
    )


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
    """Delete a study with its participants, responses, reports and report jobs, and their
    files (the audit entry stays)."""
    with transaction.atomic():
        counts = {
            "participants": study.participants.count(),
            "responses": study.participants.filter(trials__response__isnull=False).count(),
            "reports": study_artifacts_delete(study=study),
        }
        audit_record(
            action=AuditEvent.Action.DELETE, user=user, study=study, title=study.title, **counts
        )
        study.delete()

"""``manage.py delete_participant_data``: erase one person's data (a GDPR erasure request)."""

from django.core.management.base import BaseCommand, CommandError

from studyapp.models import Study
from studyapp.pseudonyms import pseudonymise
from studyapp.services.participants import participant_data_delete


class Command(BaseCommand):
    help = (
        "Delete every session, trial and response of one participant, found by the id they "
        "used (e.g. their Prolific id, hashed here exactly as at collection) or by pseudonym, "
        "and the reports of those studies (they contain the participant's rows)."
    )

    def add_arguments(self, parser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--participant-id", help="The external id (PROLIFIC_PID or participant=).")
        who.add_argument("--pseudonym", help="The stored pseudonym (from an export).")
        parser.add_argument("--study", help="Only this study (slug); default: every study.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would be deleted.")

    def handle(self, *args, participant_id, pseudonym, study, dry_run, **options) -> None:
        scope = None
        if study:
            scope = Study.objects.filter(slug=study).first()
            if scope is None:
                raise CommandError(f"No study with slug {study!r}.")
        key = pseudonymise(participant_id) if participant_id else pseudonym
        report = participant_data_delete(pseudonym=key, study=scope, dry_run=dry_run)
        if not report:
            self.stdout.write("No data found for this participant.")
            return
        verb = "Would delete" if dry_run else "Deleted"
        for slug, counts in report.items():
            self.stdout.write(
                f"{verb} in {slug}: 1 session, {counts['trials']} trials, "
                f"{counts['responses']} responses, {counts['reports']} reports."
            )

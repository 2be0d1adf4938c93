"""``manage.py requeue_jobs``: send again the job and batch messages the broker lost."""

from django.core.management.base import BaseCommand, CommandError
from kombu.exceptions import KombuError

from studyapp.services.dispatch import jobs_requeue


class Command(BaseCommand):
    help = (
        "Send again every job or batch message that was never delivered or that the broker lost "
        "(what each worker's sweep does every FACESIM_REQUEUE_INTERVAL_S seconds)."
    )

    def handle(self, *args, **options) -> None:
        try:
            resent = jobs_requeue()
        except (KombuError, OSError) as error:
            raise CommandError(f"The broker is unreachable: {error}") from error
        for task_name, object_id in resent:
            self.stdout.write(f"Sent again: {task_name}({object_id})")
        self.stdout.write(f"{len(resent)} messages sent again.")

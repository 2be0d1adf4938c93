"""``manage.py create_demo``: the demo stimulus set, researcher account and studies (idempotent)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from studyapp.services.demo import demo_researcher, demo_stimulus_set, demo_studies


class Command(BaseCommand):
    help = "Create (or reuse) the generated demo faces, a researcher login and three live studies."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options) -> None:
        stimulus_set = demo_stimulus_set()
        user, password = demo_researcher(settings.BASE_DIR / "var" / "demo-password.txt")
        studies = demo_studies(stimulus_set=stimulus_set, owner=user)
        self.stdout.write(
            f"Demo stimulus set: {stimulus_set.name} ({stimulus_set.stimuli.count()} faces)"
        )
        self.stdout.write(
            f"Researcher login: {base_url}/admin/  user {user.username}  password {password}"
        )
        for study in studies:
            self.stdout.write(
                f"Participant link ({study.trial_types[0]}): {base_url}/s/{study.slug}/"
                f"?PROLIFIC_PID=demo-participant-1"
            )
            self.stdout.write(f"  overview: {base_url}/research/studies/{study.slug}/")

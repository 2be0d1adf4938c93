"""``manage.py demo``: the whole demo study, end to end (see ``studyapp.demo_runner``)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from studyapp.demo_runner import JobFailed, run_demo


class Command(BaseCommand):
    help = "Create the demo study, train its models, simulate participants and build its report."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url: str, **options) -> None:
        try:
            result = run_demo(
                base_url=base_url,
                password_file=settings.BASE_DIR / "var" / "demo-password.txt",
                log=self.stdout.write,
            )
        except JobFailed as error:
            raise CommandError(f"A demo job failed: {error}") from error
        study = result.study
        lines = [
            "",
            f"Researcher login:  {base_url}/accounts/login/  "
            f"user {result.username}  password {result.password}",
            f"Study dashboard:   {base_url}/research/studies/{study.slug}/",
            f"Report:            {base_url}/research/studies/{study.slug}/report/",
            f"Take part yourself: {base_url}/s/{study.slug}/?PROLIFIC_PID=you",
        ]
        for slug in ("demo-ratings", "demo-afc"):
            lines.append(f"Other demo studies: {base_url}/s/{slug}/?PROLIFIC_PID=you")
        self.stdout.write("\n".join(lines))

"""``manage.py model_grid``: launch a model grid (pretrained bases x tasks x seeds)."""

import json

from django.core.management.base import BaseCommand, CommandError

from studyapp.models import FaceModel, StimulusSet


class Command(BaseCommand):
    help = (
        "Finetune every base model for every task (label column) and seed on a stimulus set, "
        "as one finetune job per model; finished models are reused."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base", action="append", required=True, help="model name (repeat)")
        parser.add_argument("--stimulus-set", required=True, help="stimulus set name")
        parser.add_argument("--tasks", required=True, help="comma-separated label columns")
        parser.add_argument("--seeds", required=True, help="comma-separated finetuning seeds")
        parser.add_argument(
            "--params", default="{}", help='shared settings as JSON, e.g. {"train_last": 2}'
        )
        parser.add_argument("--wait", action="store_true", help="wait until every job finished")

    def handle(self, *args, base, stimulus_set, tasks, seeds, params, wait, **options) -> None:
        from studyapp.demo_runner import JobFailed, wait_for_jobs  # imports torch via services
        from studyapp.services.model_grid import model_grid_launch

        bases = []
        for name in base:
            model = FaceModel.objects.filter(name=name).first()
            if model is None:
                raise CommandError(f"No model is called {name!r}.")
            bases.append(model)
        found = StimulusSet.objects.filter(name=stimulus_set).first()
        if found is None:
            raise CommandError(f"No stimulus set is called {stimulus_set!r}.")
        try:
            settings = json.loads(params)
            if not isinstance(settings, dict):
                raise ValueError("--params must be a JSON object")
            jobs = model_grid_launch(
                bases=bases,
                stimulus_set=found,
                tasks=[t.strip() for t in tasks.split(",") if t.strip()],
                seeds=[int(s) for s in seeds.split(",") if s.strip()],
                params=settings,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Launched {len(jobs)} finetune jobs: {', '.join(f'#{j.pk}' for j in jobs)}."
        )
        if wait:
            try:
                wait_for_jobs(jobs, progress=False)
            except JobFailed as error:
                raise CommandError(str(error)) from error
            self.stdout.write("All finished.")

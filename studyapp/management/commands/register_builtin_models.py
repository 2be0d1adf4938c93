"""Register the built-in pretrained models (e.g. dlib's face-recognition network)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create or refresh the FaceModel rows of the built-in pretrained models."

    def handle(self, *args, **options) -> None:
        from studyapp.services.builtin_models import builtin_models_register  # imports torch

        try:
            models = builtin_models_register()
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        for model in models:
            self.stdout.write(f"Registered built-in model {model.name} ({model.architecture}).")

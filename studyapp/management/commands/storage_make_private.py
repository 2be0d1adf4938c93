"""``manage.py storage_make_private``: move an older install's private files out of /media/."""

from django.core.management.base import BaseCommand, CommandError

from studyapp.storage import public_files_make_private


class Command(BaseCommand):
    help = (
        "Move every stored file except stimulus images (artifacts, reports, job outputs, "
        "weights, part masks) from DJANGO_MEDIA_ROOT to DJANGO_PRIVATE_ROOT, keeping names."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what would move.")

    def handle(self, *args, dry_run, **options) -> None:
        try:
            names = public_files_make_private(dry_run=dry_run)
        except FileExistsError as error:
            raise CommandError(str(error)) from error
        for name in names:
            self.stdout.write(name)
        verb = "Would move" if dry_run else "Moved"
        self.stdout.write(f"{verb} {len(names)} files to the private folder.")

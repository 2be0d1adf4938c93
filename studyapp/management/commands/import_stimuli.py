"""``manage.py import_stimuli PATH --name NAME``: import a folder or zip of images as a set."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from modelsvc.dlib_parts import PART_MASK_LICENCE
from studyapp.services.stimuli import StimulusImportRejected, stimulus_set_import
from studyapp.stimulus_sources import UnsafeSource, files_from_folder, files_from_zip


class Command(BaseCommand):
    help = (
        "Import a stimulus set from a folder or .zip of images, with an optional metadata CSV "
        "(first column: file name; other columns: labels). Nothing is imported if any file is bad."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path, help="Folder or .zip archive of images.")
        parser.add_argument("--name", required=True, help="Name of the new stimulus set.")
        parser.add_argument("--description", default="")
        parser.add_argument("--metadata", type=Path, help="CSV of labels (default: metadata.csv).")
        parser.add_argument(
            "--label-from-folder",
            default="",
            metavar="COLUMN",
            help="Store each image's folder name as this label (e.g. identity).",
        )
        parser.add_argument(
            "--align-faces",
            action="store_true",
            help="Store dlib's aligned 150 px face chip of each photo (detection, 5 landmarks).",
        )
        parser.add_argument(
            "--derive-part-masks",
            action="store_true",
            help="Part masks from dlib's 68 landmarks. " + PART_MASK_LICENCE,
        )

    def handle(self, *args, path: Path, name: str, **options) -> None:
        limits = {
            "max_files": settings.STIMULUS_MAX_FILES,
            "max_total_bytes": settings.STIMULUS_MAX_UPLOAD_BYTES,
        }
        try:
            if path.is_dir():
                files = files_from_folder(path, **limits)
            elif path.suffix.lower() == ".zip":
                files = files_from_zip(path, **limits)
            else:
                raise CommandError(f"{path} is neither a folder nor a .zip archive.")
            metadata = options["metadata"].read_bytes() if options["metadata"] else None
            stimulus_set, report = stimulus_set_import(
                name=name,
                files=files,
                description=options["description"],
                metadata_csv=metadata,
                label_from_folder=options["label_from_folder"],
                align_faces=options["align_faces"],
                derive_part_masks=options["derive_part_masks"],
            )
        except UnsafeSource as error:
            raise CommandError(f"Nothing imported: {error}.") from error
        except StimulusImportRejected as rejected:
            lines = "\n".join(f"  {problem}" for problem in rejected.problems)
            raise CommandError(
                f"Nothing imported; {len(rejected.problems)} problems:\n{lines}"
            ) from None
        self.stdout.write(
            f"Imported {report.created} stimuli into {stimulus_set.name!r} (id {stimulus_set.pk})."
        )
        for duplicate, kept in report.duplicates:
            self.stdout.write(f"  skipped {duplicate}: identical to {kept}")
        if report.ignored:
            self.stdout.write(
                f"  ignored {len(report.ignored)} non-image files: {report.ignored[:10]}"
            )

"""Weights files waiting for their registration form: kept privately, per researcher.

A file chosen on the model form is staged at once (to detect its format) or after a form
error, so the researcher does not upload it again. A staged file lives in private storage
under ``weights-staging/<user id>/<token>/<file name>``: only the researcher who staged it can
name it, and the token is unguessable. Staged files older than `STAGING_MAX_AGE` are removed
whenever another one is staged.
"""

import re
import secrets
from datetime import timedelta

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

STAGING = "weights-staging"
STAGING_MAX_AGE = timedelta(days=1)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def _folder(user, token: str) -> str:
    if not _TOKEN.fullmatch(token or ""):
        raise ValueError("The staged weights file is unknown; choose the file again.")
    return f"{STAGING}/{user.pk}/{token}"


def weights_stage(*, user, upload: UploadedFile) -> tuple[str, str]:
    """Keep `upload` for `user`; returns (token, storage name)."""
    _remove_old(user)
    token = secrets.token_urlsafe(24)
    name = default_storage.save(f"{_folder(user, token)}/{upload.name}", upload)
    return token, name


def staged_weights(*, user, token: str) -> str:
    """The storage name of `user`'s staged file `token`; ValueError when there is none."""
    folder = _folder(user, token)
    files = default_storage.listdir(folder)[1] if default_storage.exists(folder) else []
    if not files:
        raise ValueError("The staged weights file is gone; choose the file again.")
    return f"{folder}/{files[0]}"


def staged_discard(*, user, token: str) -> None:
    """Remove `user`'s staged file `token` (nothing when it is already gone)."""
    folder = _folder(user, token)
    if default_storage.exists(folder):
        for name in default_storage.listdir(folder)[1]:
            default_storage.delete(f"{folder}/{name}")
        default_storage.delete(folder)


def _remove_old(user) -> None:
    root = f"{STAGING}/{user.pk}"
    if not default_storage.exists(root):
        return
    cutoff = timezone.now() - STAGING_MAX_AGE
    for token in default_storage.listdir(root)[0]:
        folder = f"{root}/{token}"
        names = default_storage.listdir(folder)[1]
        if all(default_storage.get_modified_time(f"{folder}/{n}") < cutoff for n in names):
            staged_discard(user=user, token=token)

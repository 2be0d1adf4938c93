"""System checks (``manage.py check``) for settings a deployment can get wrong."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register


@register()
def private_root_apart_from_media_root(app_configs, **kwargs) -> list[Error]:
    """The private folder must not lie in the public one (a web server may serve that)."""
    private = Path(settings.PRIVATE_ROOT).resolve()
    public = Path(settings.MEDIA_ROOT).resolve()
    if private == public or public in private.parents or private in public.parents:
        return [
            Error(
                f"DJANGO_PRIVATE_ROOT ({private}) and DJANGO_MEDIA_ROOT ({public}) overlap.",
                hint="Give the private files a folder outside the public media folder.",
                id="studyapp.E001",
            )
        ]
    return []

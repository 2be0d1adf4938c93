from django.apps import AppConfig


class StudyappConfig(AppConfig):
    name = "studyapp"
    verbose_name = "FaceSim Lab studies"

    def ready(self) -> None:
        from studyapp import checks  # noqa: F401 (registers the system checks)

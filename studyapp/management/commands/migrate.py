"""``manage.py migrate``: Django's, without the limit on each database round trip
(``studyapp.database_deadline``): building an index or rewriting a large table may keep one
statement waiting for minutes."""

from django.core.management.commands import migrate

from studyapp.database_deadline import database_waits_unlimited


class Command(migrate.Command):
    def handle(self, *args, **options):
        with database_waits_unlimited():
            return super().handle(*args, **options)

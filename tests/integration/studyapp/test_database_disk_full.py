"""PostgreSQL's own disk full (SQLSTATE 53100): an answer that cannot be stored gets a 503 with
Retry-After (the participant's browser keeps it and sends it again), nothing of it is written,
and once space is freed the same answer is stored exactly once.

The full disk is real: the responses table is moved to a tablespace on a small tmpfs
(``tests.small_disk``) that a file then fills. Needs root and a PostgreSQL server on this
machine, as CI and this machine's sessions have; skipped elsewhere.
"""

import pwd
import tempfile
from pathlib import Path

import pytest
from django.db import DatabaseError, connection

from studyapp.bots import ParticipantBot
from studyapp.models import Response
from tests.factories import answer_for, make_study
from tests.small_disk import fill, small_disk

pytestmark = pytest.mark.django_db(transaction=True)
TABLE = Response._meta.db_table


@pytest.fixture
def responses_on_a_small_disk():
    """The responses table in a tablespace on a 1 MiB tmpfs; yields the tmpfs folder."""
    if connection.settings_dict["HOST"] not in ("127.0.0.1", "localhost", ""):
        pytest.skip("the database server is not on this machine")
    try:
        server_user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' system user owns a database server here")
    owner = f"uid={server_user.pw_uid},gid={server_user.pw_gid},mode=0700"
    with (  # in /tmp: the server's user cannot enter pytest's folders
        tempfile.TemporaryDirectory(prefix="facesim-pg-disk-", dir="/tmp") as name,
        small_disk(Path(name), "1m", owner) as folder,
        connection.cursor() as cursor,
    ):
        space = f"facesim_small_{folder.name.rsplit('-', 1)[-1].lower()}"
        try:
            cursor.execute(f"CREATE TABLESPACE {space} LOCATION '{folder}'")  # safe characters
        except DatabaseError as error:  # e.g. a server in a container: the folder is not there
            pytest.skip(f"the database server cannot use a folder of this machine: {error}")
        try:
            cursor.execute(f"ALTER TABLE {TABLE} SET TABLESPACE {space}")
            yield folder
        finally:
            cursor.execute(f"ALTER TABLE {TABLE} SET TABLESPACE pg_default")
            cursor.execute(f"DROP TABLESPACE {space}")


def test_an_answer_that_finds_the_database_disk_full_is_a_503_and_stored_once_later(
    live_server, responses_on_a_small_disk, caplog
):
    study = make_study(trial_types=["triplet"], trials_per_participant=4, practice_trials=0)
    bot = ParticipantBot(live_server.url, study.slug, "disk-full-1")
    token = bot.join()
    first = bot.get_json(f"/api/p/{token}/plan")["trials"][0]
    answer = answer_for(first, study)
    responses = f"/api/p/{token}/responses"

    filler = fill(responses_on_a_small_disk)
    for attempt in range(2):
        status, error, _ = bot.post_json(responses, answer)
        assert status == 503, (attempt, error)
        assert error["error"]["code"] == "database_unavailable"
    assert "could not extend file" in caplog.text  # PostgreSQL's disk full, logged
    assert "No space left on device" in caplog.text
    assert not Response.objects.exists()

    filler.unlink()
    assert bot.post_json(responses, answer)[0] == 201  # the browser's outbox sends it again
    assert bot.post_json(responses, answer)[0] == 200  # a late duplicate: stored once
    assert list(Response.objects.values_list("trial__index", flat=True)) == [first["index"]]

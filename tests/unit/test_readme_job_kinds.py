"""The README's table of job kinds names every kind a job can have, and no other."""

import re
from pathlib import Path

from studyapp.models import Job

README = Path(__file__).resolve().parents[2] / "README.md"


def table_kinds(text: str) -> list[str]:
    """The first-column names of the table whose header is ``| kind | parameters …``."""
    table = text.split("| kind | parameters", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)


def test_the_table_reader_reads_the_kind_column():
    text = (
        "x\n| kind | parameters | artifacts |\n|---|---|---|\n"
        "| `a` | `b` | c |\n| `d_e` | f |\n\n| `g` |"
    )
    assert table_kinds(text) == ["a", "d_e"]


def test_readme_lists_every_job_kind():
    assert sorted(table_kinds(README.read_text())) == sorted(Job.Kind.values)

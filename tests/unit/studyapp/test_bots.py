"""The bots read the runner page's configuration from its JSON script element."""

import pytest
from django.utils.html import json_script

from studyapp.bots import embedded_json

CONFIG = {
    "rating": {"min": 0, "max": 100},
    "texts": ['</script><script id="runner-config">{}</script>', "a & b", "\u00e9"],
}


def page(*scripts: str) -> str:
    return f"<html><head>{''.join(scripts)}</head><body><p>faces</p></body></html>"


def test_embedded_json_reads_what_json_script_wrote_whatever_the_text_holds():
    html = page('<script>var x = "{}";</script>', json_script(CONFIG, "runner-config"))
    assert embedded_json(html, "runner-config") == CONFIG


def test_embedded_json_reads_only_the_named_element():
    html = page(
        json_script({"rating": {"min": 1, "max": 7}}, "other"), json_script(CONFIG, "runner-config")
    )
    assert embedded_json(html, "runner-config")["rating"] == {"min": 0, "max": 100}
    with pytest.raises(RuntimeError, match="no <script id='missing'>"):
        embedded_json(html, "missing")

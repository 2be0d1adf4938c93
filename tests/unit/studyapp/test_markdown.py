"""Study texts are Markdown rendered safely: formatting kept, scripts and handlers removed."""

from studyapp.templatetags.markdown import render_markdown


def test_formatting_is_kept():
    html = render_markdown("# Title\n\nSome **bold** text and a [link](https://example.org).")
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org"' in html


def test_script_injection_is_removed():
    html = render_markdown(
        "Hi <script>alert(1)</script> <img src=x onerror=alert(2)> "
        "[click](javascript:alert(3)) <iframe src='https://evil'></iframe>"
    )
    assert "<script" not in html
    assert "onerror" not in html
    assert "javascript:" not in html
    assert "<iframe" not in html


def test_empty_text_is_empty():
    assert render_markdown("") == ""

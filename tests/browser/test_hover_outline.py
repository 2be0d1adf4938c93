"""The face under a resting mouse is not outlined when the next trial appears (it would look
pre-selected); the outline comes back as soon as the mouse moves."""

import pytest

from tests.browser.test_input_guard import accepting_trial
from tests.browser.test_participant_browser import open_study
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ACCENT = "rgb(47, 91, 211)"  # --accent in site.css
NONE = "rgba(0, 0, 0, 0)"


def border_under(page, x: float, y: float) -> str:
    return page.evaluate(
        "([x, y]) => getComputedStyle(document.elementFromPoint(x, y).closest('.face'))"
        ".borderTopColor",
        [x, y],
    )


def test_the_hovered_face_is_not_outlined_in_the_next_trial(page, live_server):
    study = make_study(
        trial_types=["triplet"],
        trials_per_participant=6,
        practice_trials=0,
        break_every=0,
        repeat_rate=0,
        catch_rate=0,
    )
    open_study(page, live_server, study, "hoverer")
    page.click("section[data-stage=instructions] [data-next]")
    page.click("section[data-stage=block] [data-next]")
    for _ in range(3):
        shown = accepting_trial(page)
        box = page.locator("[data-faces] .face.choice").first.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x - 3, y - 3)
        page.mouse.move(x, y)
        assert border_under(page, x, y) == ACCENT
        page.mouse.down()
        page.mouse.up()  # answered without moving: the next trial's face 1 is under the mouse
        page.wait_for_function(
            "(shown) => { const faces = document.querySelector('[data-faces]');"
            " return faces.dataset.trial !== String(shown) && 'accepting' in faces.dataset; }",
            arg=shown,
        )
        assert border_under(page, x, y) == NONE
        page.mouse.move(x + 2, y + 2)
        assert border_under(page, x + 2, y + 2) == ACCENT

"""Bubbles trials in Chromium: the mask the runner draws is the server's, pixel for pixel; a
whole block stores each answer once with the staircase's counts; a reload resumes the block.

Quantisation (static/runner/bubbles.js): the canvas holds the face with alpha
round(255 * visibility). The server's mask (`BubblesDesign.mask`, float32) is quantised the same
way; the browser computes in float64, so a pixel whose 255 * visibility lies within 1e-3 of a
rounding boundary (x.5) may land one level apart: such ties are counted and must be rare, every
other pixel must be equal.
"""

import io
import math

import numpy as np
import pytest
from PIL import Image

from analysis.bubbles import BubblesDesign, WeightedUpDown
from studyapp.models import Participant, Response, Trial
from studyapp.services.stimuli import stimulus_set_import
from tests.browser.runner_driver import RunnerDriver
from tests.factories import make_study, source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTH, HEIGHT = 96, 72  # not square: rows and columns must not be swapped
SETTINGS = {"label": "gender", "sigma": 5, "start": 12, "target": 0.75, "step": 0.3}
TIE = 1e-3


def face_set(n: int = 6):
    """Images of WIDTH x HEIGHT with a gender label (alternating) and an identity (pairs)."""
    files = []
    for i in range(n):
        buffer = io.BytesIO()
        Image.new("RGB", (WIDTH, HEIGHT), (40 * i % 256, 90, 200)).save(buffer, format="PNG")
        files.append(source(f"face{i}.png", buffer.getvalue()))
    rows = "filename,gender,identity\n" + "".join(
        f"face{i}.png,{'fm'[i % 2]},id{i // 2}\n" for i in range(n)
    )
    files.append(source("metadata.csv", rows.encode()))
    stimulus_set, _ = stimulus_set_import(name="bubbles-faces", files=files)
    return stimulus_set


def bubbles_study(settings=SETTINGS, **fields):
    defaults = {"trials_per_participant": 8, "practice_trials": 1, "break_every": 0}
    defaults |= {"repeat_rate": 0, "catch_rate": 0}
    return make_study(face_set(), trial_types=["bubbles"], bubbles=settings, **(defaults | fields))


def open_study(page, live_server, study, pid):
    page.goto(f"{live_server.url}/s/{study.slug}/?PROLIFIC_PID={pid}&STUDY_ID=s&SESSION_ID=x")
    page.click("#consent-agree")
    page.wait_for_url("**/p/*/")
    return Participant.objects.get(study=study)


def quantised(seed: int, count: int) -> np.ndarray:
    return 255 * BubblesDesign(HEIGHT, WIDTH, SETTINGS["sigma"]).mask(seed, count)


def assert_same_pixels(browser_alpha, seed: int, count: int) -> int:
    """Equal everywhere but at rounding ties (returned: how many ties differed)."""
    server = quantised(seed, count)
    alpha = np.asarray(browser_alpha, dtype=np.int64).reshape(HEIGHT, WIDTH)
    differ = alpha != np.round(server)
    tie = np.abs(server - np.floor(server) - 0.5) < TIE
    assert not (differ & ~tie).any(), np.argwhere(differ & ~tie)[:5]
    assert (np.abs(alpha - server) <= 1).all()
    return int(differ.sum())


READ_CANVAS = """canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const alpha = Array.from(data.filter((_, k) => k % 4 === 3));
  const { seed, count } = canvas.dataset;
  return { seed: Number(seed), count: Number(count), size: [canvas.height, canvas.width], alpha };
}"""

DRAW_MANY = """async (cases) => {
  const script = document.querySelector('script[type="module"][src*="runner/main"]').src;
  const { bubblesCanvas } = await import(new URL("bubbles.js", script));
  const image = new Image();
  image.src = document.querySelector("canvas.bubbles").toDataURL();
  await image.decode();
  const out = [];
  for (const [seed, count] of cases) {
    const canvas = bubblesCanvas(image, { seed, count, sigma: %s });
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    out.push(Array.from(data.filter((_, k) => k %% 4 === 3)));
  }
  return out;
}"""


def test_the_runner_draws_the_servers_mask_pixel_for_pixel(page, live_server):
    study = bubbles_study()
    participant = open_study(page, live_server, study, "masks")
    driver = RunnerDriver(page)
    while driver.stage() != "trial":
        page.locator("section[data-stage]:not([hidden]) [data-next]").click()
    page.wait_for_selector("[data-faces][data-accepting]")
    shown = page.eval_on_selector("canvas.bubbles", READ_CANVAS)
    first = Trial.objects.get(participant=participant, index=0)
    assert shown["size"] == [HEIGHT, WIDTH]
    assert (shown["seed"], shown["count"]) == (first.bubbles_seed, SETTINGS["start"])
    ties = assert_same_pixels(shown["alpha"], first.bubbles_seed, SETTINGS["start"])
    # Many more seeds and counts, edge seeds included, drawn by the runner's own module (over
    # an image of the canvas shown: its alpha is replaced, so only the mask matters).
    rng = np.random.default_rng(0)
    cases = [[0, 5], [2**32 - 1, 40], [1, 1], [123456789, 200]]
    seeds, counts = rng.integers(0, 2**32, 26), rng.integers(1, 80, 26)
    cases += [[int(s), int(c)] for s, c in zip(seeds, counts, strict=True)]
    drawn = page.evaluate(DRAW_MANY % SETTINGS["sigma"], cases)
    ties += sum(assert_same_pixels(a, s, c) for a, (s, c) in zip(drawn, cases, strict=True))
    visible = sum(int((quantised(s, c) > 0.5).sum()) for s, c in cases)
    assert visible > 10 * WIDTH * HEIGHT  # the masks are not all empty
    assert ties <= 5, ties


def levels_follow_the_staircase(responses) -> None:
    """Each trial's level is the staircase after the outcomes acknowledged before it was shown:
    outcomes of earlier trials, each counted once, a set that only grows, counted in the order of
    their acknowledgements (static/runner/bubbles.js). That order is the trials' order unless a
    send failed: the outbox then tries the next answer first, so the set need not be a prefix."""
    outcomes = [response.correct for response in responses]
    staircase = WeightedUpDown(**{k: SETTINGS[k] for k in ("start", "target", "step")})

    def after(level: float, correct: bool) -> float:
        staircase.level = level
        staircase.update(correct)
        return round(staircase.level, 9)  # the same level in any order of additions

    states = {(frozenset(), staircase.level)}  # (trials counted, level), as they may have stood
    for i, response in enumerate(responses):
        frontier = set(states)
        while frontier:  # count any further outcomes of trials before i, in any order
            frontier = {
                (counted | {j}, after(level, outcomes[j]))
                for counted, level in frontier
                for j in range(i)
                if j not in counted
            } - states
            states |= frontier
        states = {s for s in states if math.isclose(s[1], response.bubbles_level)}
        assert states, (i, response.bubbles_level, [r.bubbles_level for r in responses[:i]])
        count = min(200, max(1, round(math.exp(response.bubbles_level))))
        assert response.bubbles_count == count


def assert_block_stored_once(participant) -> list[Response]:
    trials = Trial.objects.filter(participant=participant)
    responses = list(
        Response.objects.filter(trial__participant=participant).order_by("trial__index")
    )
    assert len(responses) == trials.count() == 9
    assert all(r.bubbles_count is not None and r.correct is not None for r in responses)
    levels_follow_the_staircase(responses)
    assert len({r.bubbles_count for r in responses}) > 1  # the staircase moved
    return responses


def test_a_whole_bubbles_block_is_stored_once_with_the_staircase_counts(page, live_server):
    study = bubbles_study()
    participant = open_study(page, live_server, study, "block")
    driver = RunnerDriver(page, use_mouse=True, think_ms=100)
    assert driver.run() == "complete"
    assert "block" in driver.stages_seen
    responses = assert_block_stored_once(participant)
    assert {r.choice for r in responses} == {1}  # the second button: "m"
    labels = {t.pk: t.items[0] for t in Trial.objects.filter(participant=participant)}
    male = set(
        participant.study.stimulus_set.stimuli.filter(labels__gender="m").values_list(
            "pk", flat=True
        )
    )
    assert [r.correct for r in responses] == [labels[r.trial_id] in male for r in responses]


def test_a_reload_mid_block_resumes_with_the_staircase_where_it_was(page, live_server):
    study = bubbles_study()
    participant = open_study(page, live_server, study, "resume")
    driver = RunnerDriver(page, think_ms=50)
    driver.run(trials=4)
    page.reload()
    page.wait_for_selector("section[data-stage=resume]:not([hidden])")
    assert driver.run() == "complete"
    assert sorted(driver.answered) == list(range(9))
    assert_block_stored_once(participant)


def test_offline_answers_keep_the_level_until_acknowledged_then_count_once(page, live_server):
    study = bubbles_study()
    participant = open_study(page, live_server, study, "offline")
    driver = RunnerDriver(page, think_ms=50)
    driver.run(trials=3)
    page.route("**/api/p/*/responses", lambda route: route.abort("internetdisconnected"))
    driver.run(trials=3)
    page.wait_for_selector("#connection:not([hidden])")
    page.unroute("**/api/p/*/responses")
    assert driver.run() == "complete"
    responses = assert_block_stored_once(participant)
    # While offline no outcome came back: the trials shown then repeat one level.
    offline = [r.bubbles_level for r in responses if r.trial.index in driver.answered[4:6]]
    assert len(set(offline)) == 1, offline


MATCH = {**SETTINGS, "label": "identity", "task": "match"}
READ_MATCH = """faces => {
  const candidates = [...faces.querySelectorAll(".candidates button.choice canvas.bubbles")];
  const alpha = (c) => c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  return {
    title: document.querySelector("[data-prompt]").textContent,
    reference: faces.querySelectorAll(".face.reference img").length,
    canvases: candidates.map((c) => Array.from(alpha(c).filter((_, k) => k % 4 === 3))),
    shown: candidates.map((c) => c.dataset.seed + "/" + c.dataset.count),
  };
}"""


def test_a_match_trial_shows_the_reference_and_both_candidates_through_the_same_mask(
    page, live_server
):
    study = bubbles_study(MATCH)
    participant = open_study(page, live_server, study, "match-mask")
    driver = RunnerDriver(page)
    while driver.stage() != "trial":
        if driver.stage() == "block":
            title = page.inner_text("section[data-stage=block] [data-block-title]")
            assert title == "Same person, through small windows"
            assert "same person" in page.inner_text("section[data-stage=block]")
        page.locator("section[data-stage]:not([hidden]) [data-next]").click()
    page.wait_for_selector("[data-faces][data-accepting]")
    shown = page.eval_on_selector("[data-faces]", READ_MATCH)
    first = Trial.objects.get(participant=participant, index=0)
    assert shown["title"] == "Which lower face has the same identity as the top face?"
    assert shown["reference"] == 1  # the reference in full, above the candidates
    assert shown["shown"] == [f"{first.bubbles_seed}/{SETTINGS['start']}"] * 2
    left, right = shown["canvases"]
    assert left == right  # the same apertures over both candidates ...
    assert_same_pixels(left, first.bubbles_seed, SETTINGS["start"])  # ... the server's


def test_a_whole_match_block_is_stored_once_and_scored_by_the_candidate(page, live_server):
    study = bubbles_study(MATCH)
    participant = open_study(page, live_server, study, "match-block")
    driver = RunnerDriver(page, use_mouse=True, think_ms=100)
    assert driver.run() == "complete"
    responses = assert_block_stored_once(participant)
    for response in responses:  # the driver clicks the second (right) candidate
        trial = response.trial
        assert response.choice == trial.items[2]
        assert response.correct == (trial.items[2] == trial.correct_item)
    assert {r.correct for r in responses} == {True, False}

"""Simulated participants that take part in a study through the real HTTP interface.

Used by the tests, the load benchmark and the demo. Plain ``urllib`` (no Django import), so a
bot can run against any deployment: start link → consent → questionnaire (when the study has
one) → plan → one POST per trial → completion. ``answer`` decides each response; the default
answers at random. ``questionnaire`` holds the bot's answers (question name -> value). Where
the study screens participants, the bot reports a desktop window (``viewport``) and answers the
comprehension check with ``comprehension_answers`` (the right option per question, which only
the researcher knows).
"""

import html.parser
import http.cookiejar
import json
import math
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
RUNNER_PATH = re.compile(r"/p/([^/]+)/$")
RUNNER_CONFIG = "runner-config"  # the id of the runner page's JSON script element


class _ScriptText(html.parser.HTMLParser):
    """Collects the text of the ``<script>`` element with a given id."""

    def __init__(self, element_id: str):
        super().__init__()
        self.element_id = element_id
        self.inside = False
        self.text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "script" and ("id", self.element_id) in attrs and self.text is None:
            self.inside, self.text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text.append(data)


def embedded_json(page: str, element_id: str):
    """The value of the JSON script element ``element_id`` (Django's ``json_script``)."""
    parser = _ScriptText(element_id)
    parser.feed(page)
    parser.close()
    if parser.text is None:
        raise RuntimeError(f"the page has no <script id={element_id!r}> element")
    return json.loads("".join(parser.text))


QUESTIONNAIRE_PATH = re.compile(r"/p/[^/]+/questionnaire$")


@dataclass
class BotResult:
    token: str = ""
    trials: int = 0
    created: int = 0
    duplicates: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    completion_code: str = ""


def random_answer(trial: dict, rating: tuple[int, int], rng: random.Random) -> dict:
    """A valid answer chosen at random (Bubbles: shown with one aperture, no staircase;
    arrangements: faces placed at random in the arena)."""
    if trial["type"] == "rating":
        return {"rating": rng.randint(*rating)}
    if trial["type"] == "bubbles":  # judging a label: 0 or 1; matching: a candidate
        bubbles = {"seed": trial["seed"], "count": 1, "level": 0.0}
        choice = rng.choice(trial["items"][1:]) if len(trial["items"]) == 3 else rng.randint(0, 1)
        return {"choice": choice, "bubbles": bubbles}
    if trial["type"] == "arrangement":  # uniform over the arena (radius 0.95: off the rim)
        positions = {}
        for item in trial["items"]:
            radius, angle = 0.95 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            positions[str(item)] = [radius * math.cos(angle), radius * math.sin(angle)]
        moves = [[100.0 * k, int(i), *xy] for k, (i, xy) in enumerate(positions.items())]
        return {"arrangement": {"positions": positions, "moves": moves}}
    choosable = trial["items"][1:] if trial["type"] == "afc" else trial["items"]
    return {"choice": rng.choice(choosable)}


class ParticipantBot:
    """One simulated participant; ``run()`` takes part from consent to completion."""

    def __init__(
        self,
        base_url: str,
        study_slug: str,
        participant_id: str,
        *,
        answer: Callable[[dict, tuple[int, int], random.Random], dict] = random_answer,
        questionnaire: dict[str, str] | None = None,
        seed: int = 0,
        timeout: float = 30.0,
        comprehension_answers: list[int] | None = None,
        viewport: tuple[int, int] = (1280, 800),
    ):
        self.base_url = base_url.rstrip("/")
        self.slug = study_slug
        self.participant_id = participant_id
        self.answer = answer
        self.questionnaire = questionnaire or {}
        self.rng = random.Random(seed)
        self.timeout = timeout
        self.comprehension_answers = comprehension_answers
        self.viewport = viewport
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def run(self) -> BotResult:
        result = BotResult(token=self.join())
        plan = self.get_json(f"/api/p/{result.token}/plan")
        self.pass_screening(result.token, plan["screening"])
        rating = self.rating_scale(result.token)
        for trial in plan["trials"]:
            if trial["answered"]:
                continue
            if trial["type"] == "arrangement" and not trial["items"]:  # chosen from the last
                plan = self.get_json(f"/api/p/{result.token}/plan")
                trial = plan["trials"][trial["index"]]
            body = {"trial": trial["index"], **self.answer(trial, rating, self.rng)}
            body["rt_ms"] = round(self.rng.uniform(400, 2500), 1)
            status, _, elapsed = self.post_json(f"/api/p/{result.token}/responses", body)
            result.latencies_ms.append(elapsed)
            result.trials += 1
            result.created += status == 201
            result.duplicates += status == 200
        status, completion, _ = self.post_json(f"/api/p/{result.token}/complete", {})
        if status != 200:
            raise RuntimeError(f"completion refused ({status}): {completion}")
        result.completion_code = completion["completion_code"]
        return result

    def pass_screening(self, token: str, screening: dict) -> None:
        """Pass the study's window and comprehension checks as the trial runner would."""
        status = screening["status"]
        setup = screening["min_width"] or screening["min_height"] or screening["desktop_only"]
        if status == "pending" and setup and not screening["setup_checked"]:
            width, height = self.viewport
            body = {"viewport": {"width": width, "height": height}}
            status = self.screening_step(f"/api/p/{token}/screening", body)
        if status == "pending" and screening["questions"]:
            if self.comprehension_answers is None:
                raise RuntimeError(
                    "the study has a comprehension check: give comprehension_answers"
                )
            body = {"answers": self.comprehension_answers}
            status = self.screening_step(f"/api/p/{token}/comprehension", body)
        if status not in ("none", "passed"):
            raise RuntimeError(f"screened out ({status})")

    def screening_step(self, path: str, body: dict) -> str:
        status, answer, _ = self.post_json(path, body)
        if status != 200:
            raise RuntimeError(f"screening refused ({status}): {answer}")
        return answer["screening"]

    def join(self) -> str:
        """Open the start link, agree to the consent form, answer the questionnaire if there is
        one; returns the session token."""
        query = urllib.parse.urlencode({"PROLIFIC_PID": self.participant_id})
        page = self.request(f"/s/{self.slug}/?{query}")
        if not RUNNER_PATH.search(urllib.parse.urlparse(page.url).path):
            form = page.read().decode()
            token = CSRF_INPUT.search(form)
            if token is None:
                raise RuntimeError(f"no consent form at the start link: {form[:300]}")
            fields = {
                "csrfmiddlewaretoken": token.group(1),
                "decision": "agree",
                "PROLIFIC_PID": self.participant_id,
            }
            page = self.request(f"/s/{self.slug}/consent", urllib.parse.urlencode(fields).encode())
        path = urllib.parse.urlparse(page.url).path
        if QUESTIONNAIRE_PATH.search(path):
            page = self.answer_questionnaire(path, page.read().decode())
        match = RUNNER_PATH.search(urllib.parse.urlparse(page.url).path)
        if match is None:
            raise RuntimeError(f"consent did not lead to the trial runner: {page.url}")
        return match.group(1)

    def answer_questionnaire(self, path: str, form: str):
        """Post the bot's questionnaire answers; the page that follows (the runner)."""
        token = CSRF_INPUT.search(form)
        if token is None:
            raise RuntimeError(f"no questionnaire form: {form[:300]}")
        fields = {"csrfmiddlewaretoken": token.group(1), **self.questionnaire}
        try:
            return self.request(path, urllib.parse.urlencode(fields).encode())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"questionnaire refused ({error.code})") from error

    def rating_scale(self, token: str) -> tuple[int, int]:
        """The rating scale's (min, max) from the runner page's configuration."""
        config = embedded_json(self.request(f"/p/{token}/").read().decode(), RUNNER_CONFIG)
        return config["rating"]["min"], config["rating"]["max"]

    def csrf_token(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers or {})
        if data is not None:
            request.add_header("Referer", self.base_url + path)
        return self.opener.open(request, timeout=self.timeout)

    def get_json(self, path: str) -> dict:
        return json.loads(self.request(path, headers={"Accept": "application/json"}).read())

    def post_json(self, path: str, body: dict) -> tuple[int, dict, float]:
        """POST JSON; returns (status, body, milliseconds). 4xx/5xx are returned, not raised."""
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.csrf_token()}
        started = time.perf_counter()
        try:
            with self.request(path, json.dumps(body).encode(), headers) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        elapsed = (time.perf_counter() - started) * 1000
        return status, json.loads(payload or b"{}"), elapsed

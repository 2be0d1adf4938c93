"""Drives the trial runner like a participant: reads the visible stage and answers it."""

from playwright.sync_api import Page

VISIBLE_STAGE = "section[data-stage]:not([hidden])"
CARD_STAGES = {"instructions", "resume", "block", "practice-done", "break", "debrief", "fullscreen"}


class RunnerDriver:
    def __init__(
        self, page: Page, *, use_mouse: bool = False, use_touch: bool = False, think_ms: int = 0
    ):
        self.page = page
        self.use_mouse = use_mouse
        self.use_touch = use_touch
        self.think_ms = think_ms
        self.answered: list[int] = []  # trial indices, in the order answered
        self.stages_seen: list[str] = []

    def stage(self) -> str:
        self.page.wait_for_selector(VISIBLE_STAGE)
        return self.page.eval_on_selector(VISIBLE_STAGE, "element => element.dataset.stage")

    def run(self, *, trials: int | None = None) -> str:
        """Answer until the study is complete, or until ``trials`` more trials are answered."""
        target = None if trials is None else len(self.answered) + trials
        while target is None or len(self.answered) < target:
            stage = self.stage()
            if not self.stages_seen or self.stages_seen[-1] != stage:
                self.stages_seen.append(stage)
            if stage == "trial":
                self.answer_trial()
            elif stage in CARD_STAGES:
                button = self.page.locator(f"section[data-stage={stage}] [data-next]")
                button.tap() if self.use_touch else button.click()
            elif stage == "complete":
                return stage
            elif stage in {"loading", "saving"}:
                self.page.wait_for_timeout(50)
            else:
                raise AssertionError(f"runner shows {stage}: {self.page.inner_text(VISIBLE_STAGE)}")
        return self.stage()

    def answer_trial(self) -> None:
        page = self.page
        page.wait_for_selector("[data-faces][data-accepting]")
        if self.think_ms:
            page.wait_for_timeout(self.think_ms)
        kind = page.get_attribute("[data-faces]", "data-type")
        slider = page.locator("[data-rating-slider]")
        shown = page.get_attribute("[data-faces]", "data-trial")
        if kind == "rating" and slider.is_visible():
            slider.locator("input").fill("70")
            if self.use_mouse:
                slider.locator("[data-slider-next]").click()
            else:
                page.keyboard.press("Enter")
        elif self.use_mouse or self.use_touch:
            target = "[data-rating-buttons] button" if kind == "rating" else "[data-faces] .choice"
            choice = page.locator(target).nth(1)
            choice.tap() if self.use_touch else choice.click()
        else:
            page.keyboard.press("2")
        self.answered.append(int(shown))
        # The runner hides the faces in the next frame and queues the answer in the same
        # callback; the next trial may replace this one soon after: wait for either.
        page.wait_for_function(
            "shown => { const f = document.querySelector('[data-faces]');"
            " return f.style.visibility === 'hidden' || f.dataset.trial !== shown; }",
            arg=shown,
        )

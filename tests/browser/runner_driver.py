"""Drives the trial runner like a participant: reads the visible stage and answers it."""

import math

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
        if kind == "arrangement":
            self.arrange()
        elif kind == "rating" and slider.is_visible():
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

    def arrange(self, *, count: int | None = None, finish: bool = True) -> dict[str, tuple]:
        """Place the faces in the tray (the first ``count``) at spread targets, by mouse, touch
        or keyboard as the driver is set; then press Done. Returns id -> target (arena radii)."""
        page = self.page
        ids = page.eval_on_selector_all(".tray .arrange-face", "els => els.map(e => e.dataset.id)")
        placed_before = page.locator(".arena .arrange-face").count()
        targets = {}
        for k, face_id in enumerate(ids[:count]):
            n = k + placed_before
            target = (0.6 * math.cos(2.4 * n) * (0.4 + 0.1 * (n % 6)), 0.6 * math.sin(2.4 * n))
            face = page.locator(f'.arrange-face[data-id="{face_id}"]')
            if self.use_mouse or self.use_touch:
                self.drag(face, target)
            else:
                target = self.move_by_keys(face, n)
            targets[face_id] = target
        if finish:
            done = page.locator("[data-arrangement-done]")
            if self.use_touch:
                done.tap()
            elif self.use_mouse:
                done.click()
            else:
                done.focus()
                page.keyboard.press("Enter")
        return targets

    def arena_point(self, x: float, y: float) -> tuple[float, float]:
        box = self.page.locator("[data-arena]").bounding_box()
        radius = box["width"] / 2
        return box["x"] + radius + x * radius, box["y"] + radius + y * radius

    def drag(self, face, target: tuple[float, float]) -> None:
        """Drag ``face`` by its centre to ``target`` (a touch drag through Chromium's own
        touch input when the driver uses touch)."""
        box = face.bounding_box()
        start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        end = self.arena_point(*target)
        path = [
            (start[0] + (end[0] - start[0]) * s / 8, start[1] + (end[1] - start[1]) * s / 8)
            for s in range(1, 9)
        ]
        if self.use_touch:
            cdp = self.page.context.new_cdp_session(self.page)

            def touch(kind: str, points: list) -> None:
                touch_points = [{"x": x, "y": y} for x, y in points]
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

            touch("touchStart", [start])
            for point in path:
                touch("touchMove", [point])
            touch("touchEnd", [])
            cdp.detach()
        else:
            mouse = self.page.mouse
            mouse.move(*start)
            mouse.down()
            for point in path:
                mouse.move(*point)
            mouse.up()

    def move_by_keys(self, face, n: int) -> tuple[float, float]:
        """Select ``face`` with Enter and move it with the arrow keys (a face from the tray
        starts at the centre; a press moves 0.05 radii); returns where it ends up."""
        keyboard = self.page.keyboard
        face.focus()
        keyboard.press("Enter")
        right, down = 1 + 3 * (n % 4), 3 * ((n // 4) % 4) - 4
        for _ in range(right):
            keyboard.press("ArrowRight")
        for _ in range(abs(down)):
            keyboard.press("ArrowDown" if down > 0 else "ArrowUp")
        keyboard.press("Escape")
        return (0.05 * right, 0.05 * down)

// Shows one trial (fixation cross, faces for a timed exposure or until the answer, mask) and
// resolves with the participant's answer. Every change on screen is frame-locked (frames.js).
// The reaction time runs from the frame in which the decoded images appear to the response.
// Only a fresh press counts: one that began at least `minExposureMs` after that frame (a held
// key, a key pressed during the transition or the second click of a double-click never does).
import { clickPressedAt, keyPressedAt } from "./input.js";
import { changeAfter } from "./frames.js";
import { bubblesCanvas, isMatch } from "./bubbles.js";
import { addMasks } from "./masks.js";
import { loadImages } from "./preload.js";

const PROMPTS = {
  triplet: "Which face is the odd one out?",
  afc: "Which of the two lower faces is more similar to the top face?",
  rating: "How similar are these two faces?",
};
const LOADING_DELAY_MS = 80;

function prompt(trial, bubbles) {
  if (isMatch(trial)) return `Which lower face has the same ${bubbles.label} as the top face?`;
  return bubbles ? `Which ${bubbles.label}?` : PROMPTS[trial.type];
}
const FEEDBACK_MS = 1000;

// A face (an image or a canvas) as a button answering with `key`.
function faceButton(content, label, key) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "face choice";
  button.dataset.key = key;
  button.setAttribute("aria-label", label);
  button.append(content, Object.assign(document.createElement("span"), { className: "key", textContent: key }));
  return button;
}

function faceFigure(image, className) {
  const figure = document.createElement("div");
  figure.className = `face ${className}`;
  figure.append(image.cloneNode());
  return figure;
}

// A Bubbles trial: the face through its apertures, and one button per answer (its index).
function bubblesLayout(faces, image, bubbles, answers) {
  const figure = Object.assign(document.createElement("div"), { className: "face bubbles" });
  figure.append(bubblesCanvas(image, bubbles));
  const row = Object.assign(document.createElement("div"), { className: "candidates" });
  bubbles.options.forEach((option, i) => {
    const button = Object.assign(document.createElement("button"), { type: "button", className: "choice", textContent: option });
    button.dataset.key = String(i + 1);
    button.prepend(Object.assign(document.createElement("span"), { className: "key", textContent: String(i + 1) }));
    row.append(button);
    answers.set(String(i + 1), { choice: i });
  });
  faces.append(figure, row);
}

// The reference above two candidates (buttons answering with their stimulus), each candidate
// an image or, in a match-to-reference Bubbles trial, a canvas of it through the apertures.
function referenceLayout(faces, trial, images, answers, candidate) {
  faces.append(faceFigure(images[0], "reference"));
  const row = Object.assign(document.createElement("div"), { className: "candidates" });
  images.slice(1).forEach((image, i) => {
    row.append(faceButton(candidate(image), i === 0 ? "Left face" : "Right face", String(i + 1)));
    answers.set(String(i + 1), { choice: trial.items[i + 1] });
  });
  faces.append(row);
}

// Build the DOM for a trial; returns the keys that answer it, mapped to the answer.
function layout(trial, images, view, rating, bubbles) {
  const faces = view.querySelector("[data-faces]");
  faces.replaceChildren();
  // A face appearing under a resting pointer is not "hovered" (it would look pre-selected):
  // the hover outline returns only when the mouse moves over the new trial.
  delete faces.dataset.pointerMoved;
  faces.onpointermove = (event) => {
    if (event.pointerType === "mouse") faces.dataset.pointerMoved = "";
  };
  faces.dataset.type = trial.type;
  faces.dataset.trial = String(trial.index);
  const answers = new Map();
  if (trial.type === "triplet") {
    images.forEach((image, i) => {
      faces.append(faceButton(image.cloneNode(), `Face ${i + 1}`, String(i + 1)));
      answers.set(String(i + 1), { choice: trial.items[i] });
    });
  } else if (trial.type === "afc") {
    referenceLayout(faces, trial, images, answers, (image) => image.cloneNode());
  } else if (isMatch(trial)) {
    faces.dataset.type = "bubbles-match";
    referenceLayout(faces, trial, images, answers, (image) => bubblesCanvas(image, bubbles));
  } else if (trial.type === "bubbles") {
    bubblesLayout(faces, images[0], bubbles, answers);
  } else {
    images.forEach((image) => faces.append(faceFigure(image, "pair")));
  }
  const buttons = view.querySelector("[data-rating-buttons]");
  const slider = view.querySelector("[data-rating-slider]");
  buttons.hidden = slider.hidden = true;
  if (trial.type === "rating" && rating.max === 7) {
    buttons.replaceChildren(Object.assign(document.createElement("span"), { className: "anchor", textContent: "not similar" }));
    for (let value = rating.min; value <= rating.max; value += 1) {
      const button = Object.assign(document.createElement("button"), { type: "button", textContent: String(value) });
      button.className = "choice";
      button.dataset.key = String(value);
      buttons.append(button);
      answers.set(String(value), { rating: value });
    }
    buttons.append(Object.assign(document.createElement("span"), { className: "anchor", textContent: "very similar" }));
    buttons.hidden = false;
  } else if (trial.type === "rating") {
    const input = slider.querySelector("input");
    input.value = String((rating.min + rating.max) / 2);
    slider.querySelector("[data-slider-next]").disabled = true;
    slider.hidden = false;
  }
  return answers;
}

const TOO_SLOW = "Too slow — please answer faster.";

function setImagesVisible(faces, visible) {
  for (const image of faces.querySelectorAll(".face img, .face canvas.bubbles")) image.style.visibility = visible ? "visible" : "hidden";
}

// Resolves with the answer, its reaction time and the measured timing (frame timestamps in ms
// from the trial's first frame); with null when `interrupt` resolves first (nothing then
// stays on screen). Bubbles trials take `bubbles` ({seed, count, sigma, label, options}).
export async function runTrial(trial, { view, imageUrls, rating, minExposureMs, timing, refreshMs, interrupt, bubbles }) {
  const loading = view.querySelector("[data-loading]");
  const faces = view.querySelector("[data-faces]");
  const fixation = view.querySelector("[data-fixation]");
  const message = view.querySelector("[data-trial-message]");
  view.querySelector("[data-prompt]").textContent = prompt(trial, bubbles);
  faces.style.visibility = "hidden";
  message.hidden = true;
  const timer = setTimeout(() => (loading.hidden = false), LOADING_DELAY_MS);
  const images = await loadImages(trial.items.map((id) => imageUrls[String(id)]), () => {
    loading.hidden = false;
    loading.textContent = "Loading images… (retrying)";
  });
  clearTimeout(timer);
  loading.hidden = true;
  loading.textContent = "Loading images…";
  const answers = layout(trial, images, view, rating, bubbles);
  const masks = timing.mask !== "none" ? addMasks(faces, timing.mask, images) : [];
  const aborted = new AbortController();
  const frames = { refreshMs, signal: aborted.signal };
  const showFaces = () => {
    fixation.hidden = true;
    faces.style.visibility = "visible";
  };
  const start = await changeAfter({ ...frames, change: () => (timing.fixation_ms ? (fixation.hidden = false) : showFaces()) });
  const onset = timing.fixation_ms ? await changeAfter({ ...frames, since: start, ms: timing.fixation_ms, change: showFaces }) : start;
  let offset = null;
  if (onset !== null && timing.exposure_ms) {
    changeAfter({
      ...frames,
      since: onset,
      ms: timing.exposure_ms,
      change: () => {
        setImagesVisible(faces, false);
        masks.forEach((mask) => (mask.hidden = false));
      },
    }).then((t) => {
      offset = t;
      if (t !== null && masks.length) {
        const hideMasks = () => masks.forEach((mask) => (mask.hidden = true));
        changeAfter({ ...frames, since: t, ms: timing.mask_ms, change: hideMasks });
      }
    });
  }
  const acceptFrom = onset + minExposureMs;
  let tooSlow = false;

  return new Promise((resolve) => {
    const slider = view.querySelector("[data-rating-slider]");
    const input = slider.querySelector("input");
    const sliderNext = slider.querySelector("[data-slider-next]");
    const timers = [setTimeout(() => (faces.dataset.accepting = "true"), acceptFrom - performance.now())];
    if (timing.deadline_ms) {
      const late = () => {
        tooSlow = true;
        message.textContent = TOO_SLOW;
        message.hidden = false;
      };
      timers.push(setTimeout(late, onset + timing.deadline_ms - performance.now()));
    }
    const hideAll = () => {
      faces.style.visibility = "hidden";
      fixation.hidden = true;
      message.hidden = true;
      setImagesVisible(faces, true);
      masks.forEach((mask) => mask.remove());
    };
    const stop = () => {
      aborted.abort();
      timers.forEach(clearTimeout);
      document.removeEventListener("keydown", onKey);
      view.removeEventListener("click", onClick);
      input.removeEventListener("input", onSlide);
      delete faces.dataset.accepting;
    };
    const finish = (answer) => {
      const rt = performance.now() - onset;
      stop();
      changeAfter({ refreshMs, change: hideAll }).then((hiddenAt) => {
        resolve({
          ...answer,
          rt_ms: Math.max(rt, 0.001),
          timing: {
            refresh_ms: refreshMs,
            stimulus_onset_ms: onset - start,
            stimulus_offset_ms: (offset ?? hiddenAt) - start,
            too_slow: tooSlow,
          },
        });
      });
    };
    const onKey = (event) => {
      const sliderDone = event.key === "Enter" && !slider.hidden && !sliderNext.disabled;
      if (!answers.has(event.key) && !sliderDone) return;
      // preventDefault: the key must not also press a button (of this trial, or of the card
      // shown next), fresh or not.
      event.preventDefault();
      if (!event.repeat && keyPressedAt(event) >= acceptFrom) {
        finish(answers.get(event.key) ?? { rating: Number(input.value) });
      }
    };
    const onClick = (event) => {
      const target = event.target.closest("[data-key], [data-slider-next]");
      if (!target || clickPressedAt(event) < acceptFrom) return;
      if (target.dataset.key && answers.has(target.dataset.key)) finish(answers.get(target.dataset.key));
      else if (target.matches("[data-slider-next]") && !target.disabled) finish({ rating: Number(input.value) });
    };
    const onSlide = () => (sliderNext.disabled = false);
    if (onset === null) return resolve(null);
    interrupt.then(() => {
      if (aborted.signal.aborted) return;
      stop();
      hideAll();
      resolve(null);
    });
    document.addEventListener("keydown", onKey);
    view.addEventListener("click", onClick);
    input.addEventListener("input", onSlide);
  });
}

// After an answer: feedback on a practice trial (when the block asks for it), then the
// inter-trial interval, with nothing on screen.
export async function afterTrial(trial, answer, { view, timing }) {
  const message = view.querySelector("[data-trial-message]");
  if (trial.role === "practice" && timing.practice_feedback) {
    message.textContent = answer.timing.too_slow ? TOO_SLOW : `Answered in ${(answer.rt_ms / 1000).toFixed(1)} s.`;
    message.hidden = false;
    await new Promise((resolve) => setTimeout(resolve, FEEDBACK_MS));
    message.hidden = true;
  }
  if (timing.iti_ms) await new Promise((resolve) => setTimeout(resolve, timing.iti_ms));
}

// Shows one trial and resolves with the participant's answer and reaction time.
// The reaction time runs from the frame in which the decoded images appear to the response.
// Only a fresh press counts: one that began at least `minExposureMs` after that frame (a held
// key, a key pressed during the transition or the second click of a double-click never does).
import { clickPressedAt, keyPressedAt } from "./input.js";
import { loadImages } from "./preload.js";

const PROMPTS = {
  triplet: "Which face is the odd one out?",
  afc: "Which of the two lower faces is more similar to the top face?",
  rating: "How similar are these two faces?",
};
const LOADING_DELAY_MS = 80;

function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
}

function faceButton(image, label, key) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "face choice";
  button.dataset.key = key;
  button.setAttribute("aria-label", label);
  button.append(image.cloneNode(), Object.assign(document.createElement("span"), { className: "key", textContent: key }));
  return button;
}

function faceFigure(image, className) {
  const figure = document.createElement("div");
  figure.className = `face ${className}`;
  figure.append(image.cloneNode());
  return figure;
}

// Build the DOM for a trial; returns the keys that answer it, mapped to the answer.
function layout(trial, images, view, rating) {
  const faces = view.querySelector("[data-faces]");
  faces.replaceChildren();
  faces.dataset.type = trial.type;
  faces.dataset.trial = String(trial.index);
  const answers = new Map();
  if (trial.type === "triplet") {
    images.forEach((image, i) => {
      faces.append(faceButton(image, `Face ${i + 1}`, String(i + 1)));
      answers.set(String(i + 1), { choice: trial.items[i] });
    });
  } else if (trial.type === "afc") {
    faces.append(faceFigure(images[0], "reference"));
    const row = Object.assign(document.createElement("div"), { className: "candidates" });
    images.slice(1).forEach((image, i) => {
      row.append(faceButton(image, i === 0 ? "Left face" : "Right face", String(i + 1)));
      answers.set(String(i + 1), { choice: trial.items[i + 1] });
    });
    faces.append(row);
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

export async function runTrial(trial, { view, imageUrls, rating, minExposureMs }) {
  const loading = view.querySelector("[data-loading]");
  const faces = view.querySelector("[data-faces]");
  view.querySelector("[data-prompt]").textContent = PROMPTS[trial.type];
  faces.style.visibility = "hidden";
  const timer = setTimeout(() => (loading.hidden = false), LOADING_DELAY_MS);
  const images = await loadImages(trial.items.map((id) => imageUrls[String(id)]), () => {
    loading.hidden = false;
    loading.textContent = "Loading images… (retrying)";
  });
  clearTimeout(timer);
  loading.hidden = true;
  loading.textContent = "Loading images…";
  const answers = layout(trial, images, view, rating);
  faces.style.visibility = "visible";
  const shownAt = await nextFrame();
  const acceptFrom = shownAt + minExposureMs;

  return new Promise((resolve) => {
    const slider = view.querySelector("[data-rating-slider]");
    const input = slider.querySelector("input");
    const sliderNext = slider.querySelector("[data-slider-next]");
    const accepting = setTimeout(() => (faces.dataset.accepting = "true"), acceptFrom - performance.now());
    const finish = (answer) => {
      const rt = performance.now() - shownAt;
      clearTimeout(accepting);
      document.removeEventListener("keydown", onKey);
      view.removeEventListener("click", onClick);
      input.removeEventListener("input", onSlide);
      faces.style.visibility = "hidden";
      delete faces.dataset.accepting;
      resolve({ ...answer, rt_ms: Math.max(rt, 0.001) });
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
    document.addEventListener("keydown", onKey);
    view.addEventListener("click", onClick);
    input.addEventListener("input", onSlide);
  });
}

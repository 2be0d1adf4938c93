// The participant's trial runner: instructions → (per block) practice → trials with breaks →
// debrief → completion code. Resumes at the first trial without a stored or queued response.
import { getJSON, isRetryable, postJSON, retryDelay } from "./api.js";
import { Outbox } from "./outbox.js";
import { forgetStored, keepDecoded, preload, storeAhead } from "./preload.js";
import { showRefusal } from "./refusals.js";
import { measureRefresh } from "./frames.js";
import { isScreenedOut, passScreening, showScreenedOut } from "./screening.js";
import { Staircase, isMatch } from "./bubbles.js";
import { runArrangement } from "./arrangement.js";
import { afterTrial, runTrial } from "./trials.js";
import { watchTrial } from "./visibility.js";

const DECODE_AHEAD = 3;
const REDIRECT_DELAY_MS = 4000;
const BLOCK_TITLES = {
  triplet: "Odd one out",
  afc: "Which is more similar?",
  rating: "Similarity ratings",
  bubbles: "Faces through small windows",
  "bubbles-match": "Same person, through small windows",
  arrangement: "Arrange the faces",
};

const config = JSON.parse(document.getElementById("runner-config").textContent);
const stages = Object.fromEntries([...document.querySelectorAll("[data-stage]")].map((el) => [el.dataset.stage, el]));
const progress = document.querySelector(".progress");
let staircase = null; // the Bubbles staircase, when the study has Bubbles trials

function show(name) {
  for (const [stage, element] of Object.entries(stages)) element.hidden = stage !== name;
  return stages[name];
}

// Show a card and wait for its button.
function pause(name, prepare = () => {}) {
  const element = show(name);
  prepare(element);
  const button = element.querySelector("[data-next]");
  button.focus();
  return new Promise((resolve) => button.addEventListener("click", resolve, { once: true }));
}

function setProgress(done, total) {
  const percent = total ? Math.round((100 * done) / total) : 0;
  progress.hidden = false;
  progress.setAttribute("aria-valuenow", String(percent));
  progress.querySelector(".progress-fill").style.width = `${percent}%`;
}

function fail(message) {
  show("error").querySelector("[data-error-text]").textContent = message;
  stages.error.querySelector("[data-reload]").onclick = () => location.reload();
}

function viewport() {
  return { width: Math.round(window.innerWidth), height: Math.round(window.innerHeight) };
}

async function loadPlan() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await getJSON(config.planUrl);
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
    }
  }
}

function describeClient() {
  return {
    userAgent: navigator.userAgent,
    language: navigator.language,
    platform: navigator.platform,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    touch: navigator.maxTouchPoints > 0,
    devicePixelRatio: window.devicePixelRatio,
    viewport: viewport(),
  };
}

async function blockIntro(trial, isPractice) {
  const block = isMatch(trial) ? "bubbles-match" : trial.type;
  await pause("block", (element) => {
    element.querySelector("[data-block-title]").textContent = BLOCK_TITLES[block];
    for (const text of element.querySelectorAll("[data-block-text]")) text.hidden = text.dataset.blockText !== block;
    element.querySelector("[data-rating-hint]").textContent =
      config.rating.max === 7 ? "from 1 (not similar) to 7 (very similar): click or press 1–7" : "on the slider from 0 to 100";
    element.querySelector("[data-block-practice]").hidden = !isPractice;
  });
}

// Full screen, when the study requires it: asked for from a button press (browsers allow it
// only then); left during the trials, it pauses them with a card until the participant is back.
// A refused request leaves the page windowed, so the card comes again.
async function ensureFullscreen(plan) {
  while (plan.require_fullscreen && !document.fullscreenElement) {
    await pause("fullscreen");
    await document.documentElement.requestFullscreen().catch(() => {});
  }
}

// A trial started and not answered (the page reloaded, full screen left) is an interrupted
// attempt: kept on this device until the trial is answered, then sent with the answer.
function attemptStarted(index) {
  const saved = JSON.parse(localStorage.getItem(config.attemptKey) || "null");
  const interrupted = saved && saved.trial === index ? saved.interrupted + 1 : 0;
  localStorage.setItem(config.attemptKey, JSON.stringify({ trial: index, interrupted }));
  return interrupted;
}

// Run one trial until it is answered: an interrupted attempt starts again from fixation.
// The visibility counts are those of all its attempts on this page.
async function answerTrial(trial, plan, refreshMs) {
  const visibility = { hidden: 0, blur: 0, fullscreen_exits: 0 };
  for (;;) {
    await ensureFullscreen(plan);
    show("trial");
    const interrupted = attemptStarted(trial.index);
    const watch = watchTrial();
    const timing = plan.timing[trial.type];
    // Bubbles: the count comes from the staircase as it stands when the trial starts.
    const shown = trial.type === "bubbles" ? { seed: trial.seed, count: staircase.count, level: staircase.level } : null;
    const interrupt = plan.require_fullscreen ? watch.exited : new Promise(() => {});
    const answer = trial.type === "arrangement"
      ? await runArrangement(trial, { view: stages.trial, imageUrls: plan.images, storageKey: `${config.attemptKey}:arrangement`, refreshMs, interrupt })
      : await runTrial(trial, {
      bubbles: shown && { ...plan.bubbles, ...shown },
      view: stages.trial,
      imageUrls: plan.images,
      rating: config.rating,
      minExposureMs: plan.min_exposure_ms,
      timing,
      refreshMs,
      interrupt,
    });
    watch.stop();
    for (const key of Object.keys(visibility)) visibility[key] += watch.counts[key];
    if (answer) {
      const extra = shown ? { bubbles: shown } : {};
      return { answer: { ...answer, ...extra, visibility, interrupted_attempts: interrupted }, timing };
    }
  }
}

// An arrangement trial after the first gets its faces once the one before is stored (the
// server chooses them from it): wait for the queue to drain, then ask for the plan again.
async function plannedArrangement(trial, plan, outbox) {
  if (trial.items.length) return trial;
  await outbox.whenEmpty();
  const fresh = await loadPlan();
  Object.assign(plan.images, fresh.images);
  const planned = fresh.trials.find((t) => t.index === trial.index);
  if (!planned.items.length) throw new Error("The next faces to arrange could not be chosen");
  return planned;
}

// Run the given trials in order; `counted` is how many non-practice trials were answered before.
async function runTrials(todo, plan, outbox, counted, refreshMs) {
  const total = plan.trials.filter((t) => t.role !== "practice").length;
  const urls = (trials) => trials.flatMap((t) => t.items.map((id) => plan.images[String(id)]));
  storeAhead(urls(todo));
  let previous = null;
  for (const [position, entry] of todo.entries()) {
    const trial = entry.type === "arrangement" ? await plannedArrangement(entry, plan, outbox) : entry;
    const ahead = urls(todo.slice(position, position + DECODE_AHEAD + 1));
    keepDecoded(ahead);
    ahead.forEach((url) => preload(url).catch(() => {}));
    if (!previous || previous.block !== trial.block) await blockIntro(trial, trial.role === "practice");
    else if (previous.role === "practice" && trial.role !== "practice") await pause("practice-done");
    else if (trial.role !== "practice" && config.breakEvery > 0 && counted > 0 && counted % config.breakEvery === 0) {
      await pause("break");
    }
    const { answer, timing } = await answerTrial(trial, plan, refreshMs);
    outbox.add({ trial: trial.index, ...answer, responded_at: new Date().toISOString(), viewport: viewport() });
    localStorage.removeItem(config.attemptKey);
    await afterTrial(trial, answer, { view: stages.trial, timing });
    if (trial.role !== "practice") counted += 1;
    setProgress(counted, total);
    previous = trial;
  }
}

async function finish(outbox) {
  const saving = show("saving");
  const updateCount = () => {
    saving.querySelector("[data-pending-count]").textContent = outbox.size ? `${outbox.size} answers still to send.` : "";
  };
  updateCount();
  const ticker = setInterval(updateCount, 500);
  await outbox.whenEmpty();
  clearInterval(ticker);
  // Retried like the outbox's responses: offline, 5xx, 408 and 429 (Retry-After honoured).
  for (let failures = 1; ; failures += 1) {
    let retryAfterMs = 0;
    try {
      const answer = await postJSON(config.completeUrl, {}, config.csrfToken);
      if (!isRetryable(answer.status)) return answer;
      retryAfterMs = answer.retryAfterMs;
    } catch {
      // Offline: try again below.
    }
    await new Promise((resolve) => setTimeout(resolve, retryDelay(failures, retryAfterMs)));
  }
}

function showCompletion({ completion_code: code, redirect_url: url }) {
  const element = show("complete");
  localStorage.removeItem(config.storageKey);
  localStorage.removeItem(config.attemptKey);
  forgetStored().catch(() => {});
  if (code) {
    element.querySelector("[data-code-line]").hidden = false;
    element.querySelector("[data-completion-code]").textContent = code;
  }
  if (url) {
    element.querySelector("[data-redirect-line]").hidden = false;
    element.querySelector("[data-redirect-link]").href = url;
    setTimeout(() => location.assign(url), REDIRECT_DELAY_MS);
  }
}

// Trials answered: stored on the server or queued on this device. Taken before the queue is
// sent, so a response acknowledged meanwhile is not mistaken for a missing one.
function answeredIndices(plan, outbox) {
  return new Set([...plan.trials.filter((t) => t.answered).map((t) => t.index), ...outbox.indices()]);
}

async function main() {
  let plan = await loadPlan();
  if (plan.status === "completed") return showCompletion(plan.completion);
  if (isScreenedOut(plan.screening)) return showScreenedOut({ config, show }, plan.screening.status);
  // Stored answers count now (the plan has their outcomes), answers queued here once stored.
  if (plan.bubbles) staircase = new Staircase(plan.bubbles, plan.trials);
  const connection = document.getElementById("connection");
  const outbox = new Outbox({
    url: config.responsesUrl,
    storageKey: config.storageKey,
    csrfToken: config.csrfToken,
    onConnection: (online) => (connection.hidden = online),
    onRefused: (refusal) => showRefusal(document.getElementById("refusal"), refusal),
    onStored: (payload, body) => staircase && staircase.record(payload.trial, body.correct),
  });
  let answered = answeredIndices(plan, outbox);
  outbox.flush();
  postJSON(config.clientUrl, describeClient(), config.csrfToken).catch(() => {});

  const todo = () => plan.trials.filter((t) => !answered.has(t.index));
  const counted = () => plan.trials.filter((t) => t.role !== "practice" && answered.has(t.index)).length;
  setProgress(counted(), plan.trials.filter((t) => t.role !== "practice").length);
  const refreshMs = await measureRefresh();
  await pause(answered.size > 0 ? "resume" : "instructions");
  if (!(await passScreening(plan.screening, { config, show, pause }))) return;
  if (plan.require_fullscreen) await document.documentElement.requestFullscreen().catch(() => {});
  await runTrials(todo(), plan, outbox, counted(), refreshMs);
  if (stages.debrief.querySelector(".prose").textContent.trim()) await pause("debrief");

  for (;;) {
    const { status, data } = await finish(outbox);
    if (status === 200) return showCompletion(data);
    if (status !== 422) throw new Error(`Completing the session failed (HTTP ${status}).`);
    // Some answers were refused or lost on another device: show those trials again.
    plan = await loadPlan();
    answered = answeredIndices(plan, outbox);
    await runTrials(todo(), plan, outbox, counted(), refreshMs);
  }
}

main().catch((error) => fail(`${error.message}. Your answers so far are saved.`));

// Screening before the first trial: the window size and the device, then the comprehension
// check. The server decides each step (and refuses answers until the session is screened in);
// a session screened out ends here with a polite page and no completion code.
import { isRetryable, postJSON, retryDelay } from "./api.js";

const SCREENED_OUT = new Set(["viewport", "device", "comprehension"]);

function viewport() {
  return { width: Math.round(window.innerWidth), height: Math.round(window.innerHeight) };
}

// A touch screen and no mouse or trackpad: a phone or tablet, whatever its browser calls itself.
function touchOnly() {
  return navigator.maxTouchPoints > 0 && !window.matchMedia("(any-pointer: fine)").matches;
}

// POST until the server answers with something other than a busy or offline failure; an
// answer other than 200 (a refusal) is thrown.
async function post(url, body, csrfToken) {
  for (let failures = 1; ; failures += 1) {
    let answer = null;
    try {
      answer = await postJSON(url, body, csrfToken);
    } catch {
      // Offline: try again below.
    }
    if (answer && !isRetryable(answer.status)) {
      if (answer.status !== 200) throw new Error(answer.data?.error?.message || `HTTP ${answer.status}`);
      return answer.data;
    }
    await new Promise((resolve) => setTimeout(resolve, retryDelay(failures, answer?.retryAfterMs ?? 0)));
  }
}

export function isScreenedOut(screening) {
  return SCREENED_OUT.has(screening.status);
}

// The end page of a screened-out session, with the reason's explanation.
export function showScreenedOut({ config, show }, reason) {
  const element = show("screened-out");
  for (const text of element.querySelectorAll("[data-screened-text]")) text.hidden = text.dataset.screenedText !== reason;
  for (const key of ["storageKey", "attemptKey"]) localStorage.removeItem(config[key]);
}

function tooSmall(screening, size) {
  return size.width < screening.min_width || size.height < screening.min_height;
}

// The window and the device; a too small window gets one chance to be enlarged.
async function checkSetup(screening, { config, pause }) {
  let size = viewport();
  if (tooSmall(screening, size)) {
    await pause("screen-window", (element) => {
      element.querySelector("[data-needed-size]").textContent = `${screening.min_width} × ${screening.min_height}`;
      element.querySelector("[data-current-size]").textContent = `${size.width} × ${size.height}`;
    });
    size = viewport();
  }
  return (await post(config.screeningUrl, { viewport: size, touch_only: touchOnly() }, config.csrfToken)).screening;
}

function renderQuestions(element, questions) {
  const list = element.querySelector("[data-questions]");
  list.replaceChildren(
    ...questions.map((question, number) => {
      const fieldset = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = question.question;
      fieldset.append(legend);
      question.options.forEach((option, index) => {
        const label = document.createElement("label");
        const input = document.createElement("input");
        Object.assign(input, { type: "radio", name: `question-${number}`, value: String(index) });
        label.append(input, ` ${option}`);
        fieldset.append(label);
      });
      return fieldset;
    }),
  );
}

// Wait until every question has a chosen option; returns the option indices.
function collectAnswers(element, questions) {
  const message = element.querySelector("[data-comprehension-message]");
  const button = element.querySelector("[data-check-answers]");
  button.focus();
  return new Promise((resolve) => {
    button.onclick = () => {
      const answers = questions.map((_, number) => element.querySelector(`input[name="question-${number}"]:checked`));
      if (answers.some((answer) => answer === null)) {
        message.hidden = false;
        message.textContent = "Please answer every question.";
        return;
      }
      button.onclick = null;
      resolve(answers.map((answer) => Number(answer.value)));
    };
  });
}

// The comprehension check: a wrong attempt shows the instructions again, until none is left.
async function checkComprehension(screening, { config, pause, show }) {
  let message = "";
  for (;;) {
    const element = show("comprehension");
    renderQuestions(element, screening.questions);
    const text = element.querySelector("[data-comprehension-message]");
    text.hidden = !message;
    text.textContent = message;
    const answers = await collectAnswers(element, screening.questions);
    const result = await post(config.comprehensionUrl, { answers }, config.csrfToken);
    if (result.screening !== "pending") return result.screening;
    const attempts = result.attempts_left === 1 ? "1 attempt" : `${result.attempts_left} attempts`;
    message = `Not all answers were right. Please read the instructions again; you have ${attempts} left.`;
    await pause("instructions");
  }
}

// Run the screening the plan asks for (``runner``: {config, show, pause} of main.js); resolves to true when the participant may start the
// trials, false when the session ended (the screened-out page is then shown).
export async function passScreening(screening, runner) {
  let status = screening.status;
  const setup = screening.min_width > 0 || screening.min_height > 0 || screening.desktop_only;
  if (status === "pending" && setup && !screening.setup_checked) status = await checkSetup(screening, runner);
  if (status === "pending" && screening.questions.length > 0) status = await checkComprehension(screening, runner);
  if (SCREENED_OUT.has(status)) {
    showScreenedOut(runner, status);
    return false;
  }
  return true;
}

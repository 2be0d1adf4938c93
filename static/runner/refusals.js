// Answers the server refused (a 4xx other than 408/429): the participant is told at once what
// was refused and what to do. A refused trial is not stored, so it comes again before the end;
// a refused session (expired, unknown) needs the page reloaded.
const SESSION_PROBLEMS = new Set([403, 404]);
let hideTimer = null;

export function refusalText({ status, error }) {
  const reason = error && error.message ? ` (${error.message})` : "";
  if (SESSION_PROBLEMS.has(status)) {
    return `Your last answer could not be saved because this session was not recognised${reason}. ` +
      "Please reload the page: your other answers are kept.";
  }
  return `One answer was not accepted${reason}. That trial will be shown again before the end: just carry on.`;
}

// Show the refusal in `element` (a live region) until the next one, or for `showMs`.
export function showRefusal(element, refusal, showMs = 8000) {
  element.textContent = refusalText(refusal);
  element.hidden = false;
  clearTimeout(hideTimer);
  if (!SESSION_PROBLEMS.has(refusal.status)) hideTimer = setTimeout(() => (element.hidden = true), showMs);
}

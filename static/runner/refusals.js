// Answers the server refused (a 4xx other than 408/429): the participant is told at once what
// was refused and what to do. A refused trial is not stored, so it comes again before the end;
// a refused session (403: its security check failed; or unknown) needs the page reloaded.
let hideTimer = null;

function needsReload({ status, error }) {
  return status === 403 || Boolean(error && error.code === "unknown_session");
}

export function refusalText(refusal) {
  const reason = refusal.error && refusal.error.message ? ` (${refusal.error.message})` : "";
  if (needsReload(refusal)) return `Your last answer could not be saved${reason}. Please reload the page.`;
  return `One answer was not accepted${reason}. That trial will be shown again before the end: just carry on.`;
}

// Show the refusal in `element` (a live region): until the page is reloaded when it needs
// that, else for `showMs` or until the next refusal.
export function showRefusal(element, refusal, showMs = 8000) {
  element.textContent = refusalText(refusal);
  element.hidden = false;
  clearTimeout(hideTimer);
  if (!needsReload(refusal)) hideTimer = setTimeout(() => (element.hidden = true), showMs);
}

// Small fetch helpers for the participant JSON API, and the retry policy its callers share.

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new Error(`GET ${url} failed with HTTP ${response.status}`);
  return response.json();
}

// POST a JSON body; resolves to {status, data, retryAfterMs} for any HTTP answer, rejects on
// network failure.
export async function postJSON(url, body, csrfToken) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => null); // an empty or non-JSON body
  return { status: response.status, data, retryAfterMs: retryAfterMs(response.headers.get("Retry-After")) };
}

// Answers worth sending again: the server or a proxy was busy, overloaded or timed out.
export function isRetryable(status) {
  return status >= 500 || status === 408 || status === 429;
}

// The wait before attempt `failures + 1`: 1 s doubling to 30 s with jitter, or longer when the
// server asked for it (Retry-After).
export function retryDelay(failures, retryAfter = 0) {
  const backoff = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, failures - 1));
  return Math.max(retryAfter, backoff * (0.75 + Math.random() / 2));
}

// Retry-After in milliseconds: delay-seconds or an HTTP date; 0 when absent or unreadable.
function retryAfterMs(value) {
  if (!value) return 0;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : 0;
}

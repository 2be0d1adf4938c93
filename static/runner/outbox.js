// Responses waiting to be stored on the server. They live in localStorage until the server
// acknowledges them, so a reload, a crash or a lost connection loses nothing. The server stores
// each trial's response once, so resending is safe.
//
// Sending goes through the queue; a response that fails goes to its end and the next one is
// tried, so an intermittent connection drains the queue at the rate it lets requests through.
// Only after QUICK_RETRIES failures in a row (or a 429) does the outbox back off (exponential,
// Retry-After honoured); every acknowledged response resets that count. A response the server
// refuses (any other 4xx) leaves the queue and is passed to `onRefused` ({payload, status, error});
// one it stores (2xx, first time or again) is passed to `onStored` (payload, the server's body).
import { isRetryable, postJSON, retryDelay } from "./api.js";

const QUICK_RETRIES = 3;

export class Outbox {
  constructor({ url, storageKey, csrfToken, onConnection, onRefused, onStored }) {
    this.url = url;
    this.storageKey = storageKey;
    this.csrfToken = csrfToken;
    this.onConnection = onConnection || (() => {});
    this.items = new Map(Object.entries(this.#load()));
    this.onRefused = onRefused || (() => {});
    this.onStored = onStored || (() => {});
    this.failures = 0; // in a row, since the last acknowledged response
    this.timer = null;
    this.sending = false;
    this.waiters = [];
    window.addEventListener("online", () => {
      this.failures = 0; // the connection is back: start afresh
      this.flush();
    });
  }

  get size() {
    return this.items.size;
  }

  // Trial indices whose responses are queued here.
  indices() {
    return [...this.items.keys()].map(Number);
  }

  add(payload) {
    this.items.set(String(payload.trial), payload);
    this.#save();
    if (this.timer === null) this.flush(); // else it waits for the backoff to end
  }

  // Resolves once every queued response has been acknowledged (or refused).
  whenEmpty() {
    if (this.items.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async flush() {
    if (this.sending) return; // the running pass also sends what was added meanwhile
    this.sending = true;
    clearTimeout(this.timer);
    this.timer = null;
    let wait;
    try {
      wait = await this.#drain();
    } finally {
      this.sending = false;
    }
    if (wait !== null) {
      this.onConnection(false);
      this.timer = setTimeout(() => this.flush(), wait);
    }
    if (this.items.size === 0) this.waiters.splice(0).forEach((resolve) => resolve());
  }

  // Send until the queue is empty (returns null) or it is time to back off (returns the wait).
  async #drain() {
    const pending = [];
    for (;;) {
      // Failed responses go back into `pending`: an empty one means the rest was sent, and
      // whatever the queue holds now was added while sending.
      if (pending.length === 0) pending.push(...this.items.keys());
      if (pending.length === 0) return null;
      const key = pending.shift();
      const payload = this.items.get(key);
      if (!payload) continue;
      let answer;
      try {
        answer = await postJSON(this.url, payload, this.csrfToken);
      } catch {
        answer = { status: 0, retryAfterMs: 0 }; // offline
      }
      if (answer.status === 0 || isRetryable(answer.status)) {
        this.failures += 1;
        pending.push(key);
        if (answer.status === 429 || this.failures >= QUICK_RETRIES) {
          return retryDelay(this.failures - QUICK_RETRIES + 1, answer.retryAfterMs);
        }
        continue;
      }
      if (answer.status >= 400) this.onRefused({ payload, status: answer.status, error: answer.data && answer.data.error });
      else this.onStored(payload, answer.data || {});
      this.items.delete(key);
      this.#save();
      this.failures = 0;
      this.onConnection(true);
    }
  }

  #load() {
    try {
      return JSON.parse(localStorage.getItem(this.storageKey) || "{}");
    } catch {
      return {};
    }
  }

  #save() {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(Object.fromEntries(this.items)));
    } catch {
      // Storage full or disabled: the queue still lives in memory until acknowledged.
    }
  }
}

// Responses waiting to be stored on the server. They live in localStorage until the server
// acknowledges them, so a reload, a crash or a lost connection loses nothing; sending is retried
// with exponential backoff. The server stores each trial's response once, so resending is safe.
import { postJSON } from "./api.js";

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

function isRetryable(status) {
  return status >= 500 || status === 408 || status === 429;
}

export class Outbox {
  constructor({ url, storageKey, csrfToken, onConnection }) {
    this.url = url;
    this.storageKey = storageKey;
    this.csrfToken = csrfToken;
    this.onConnection = onConnection || (() => {});
    this.items = new Map(Object.entries(this.#load()));
    this.rejected = [];
    this.failures = 0;
    this.timer = null;
    this.sending = false;
    this.again = false;
    this.waiters = [];
    window.addEventListener("online", () => this.flush());
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
    this.flush();
  }

  // Resolves once every queued response has been acknowledged (or permanently rejected).
  whenEmpty() {
    if (this.items.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async flush() {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    clearTimeout(this.timer);
    try {
      for (const [key, payload] of [...this.items]) {
        const { status, data } = await postJSON(this.url, payload, this.csrfToken);
        if (isRetryable(status)) throw new Error(`HTTP ${status}`);
        if (status >= 400) this.rejected.push({ payload, status, error: data && data.error });
        this.items.delete(key);
        this.#save();
      }
      this.failures = 0;
      this.onConnection(true);
    } catch (error) {
      this.failures += 1;
      this.onConnection(false);
      const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (this.failures - 1));
      this.timer = setTimeout(() => this.flush(), delay * (0.75 + Math.random() / 2));
    } finally {
      this.sending = false;
      if (this.items.size === 0) this.waiters.splice(0).forEach((resolve) => resolve());
      if (this.again) {
        this.again = false;
        if (this.failures === 0) this.flush();
      }
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

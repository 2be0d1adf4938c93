// Stimulus images. The images of the rest of the session are stored ahead in Cache Storage, in
// trial order up to STORE_BUDGET_BYTES: the store survives a reload and lets a block go on
// offline, and as image URLs are content-addressed a stored copy never goes stale. Decoding
// (the memory-hungry part) happens only a few trials ahead; a failed load is forgotten so it can
// be retried.
const CACHE_NAME = "facesim-stimuli";
const STORE_BUDGET_BYTES = 50 * 2 ** 20;

const stored = new Map(); // url -> Promise of its size in bytes, once in the cache
const decoded = new Map(); // url -> Promise of a decoded <img>
const objectUrls = new Map(); // url -> the blob: URL its decoded <img> shows

const cacheStorage = globalThis.caches; // absent outside secure contexts (plain http)
if (!cacheStorage) console.warn("Cache Storage is unavailable (not https): images are not stored ahead.");

function store(url) {
  if (!stored.has(url)) {
    const done = (async () => {
      const cache = await cacheStorage.open(CACHE_NAME);
      let response = await cache.match(url);
      if (!response) {
        response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) throw new Error(`GET ${url} failed with HTTP ${response.status}`);
        await cache.put(url, response.clone());
      }
      return Number(response.headers.get("Content-Length")) || (await response.blob()).size;
    })();
    done.catch(() => stored.delete(url));
    stored.set(url, done);
  }
  return stored.get(url);
}

// Store the images of `urls` (in order, each once) until the budget is spent; what failed
// (offline) is tried again when the connection is back.
export async function storeAhead(urls) {
  if (!cacheStorage) return;
  let spent = 0;
  let failed = false;
  for (const url of new Set(urls)) {
    if (spent >= STORE_BUDGET_BYTES) break;
    try {
      spent += await store(url);
    } catch {
      failed = true;
    }
  }
  if (failed) window.addEventListener("online", () => storeAhead(urls), { once: true });
}

// Drop the stored images (the session is complete).
export function forgetStored() {
  return cacheStorage ? cacheStorage.delete(CACHE_NAME) : Promise.resolve(false);
}

// The stored copy as a blob: URL, or the image's own URL where it cannot be stored (no Cache
// Storage, or a cross-origin server that does not allow reading it).
async function source(url) {
  if (!cacheStorage) return url;
  try {
    await store(url);
  } catch {
    return url;
  }
  const response = await (await cacheStorage.open(CACHE_NAME)).match(url);
  if (!response) {
    stored.delete(url); // evicted meanwhile
    return url;
  }
  const objectUrl = URL.createObjectURL(await response.blob());
  objectUrls.set(url, objectUrl);
  return objectUrl;
}

function release(url) {
  if (objectUrls.has(url)) URL.revokeObjectURL(objectUrls.get(url));
  objectUrls.delete(url);
  decoded.delete(url);
}

export function preload(url) {
  if (!decoded.has(url)) {
    const ready = source(url).then(async (src) => {
      const image = new Image();
      image.decoding = "async";
      image.src = src;
      await image.decode();
      return image;
    });
    ready.catch(() => release(url));
    decoded.set(url, ready);
  }
  return decoded.get(url);
}

// Keep only these images decoded (the trials on screen and just ahead); free the others.
export function keepDecoded(urls) {
  const keep = new Set(urls);
  for (const url of [...decoded.keys()]) if (!keep.has(url)) release(url);
}

// All images of a trial, decoded; retries with backoff until they arrive.
export async function loadImages(urls, onWaiting) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await Promise.all(urls.map(preload));
    } catch {
      onWaiting(attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.min(10000, 500 * 2 ** attempt)));
    }
  }
}

// Images are fetched and decoded ahead of time; a failed load is forgotten so it can be retried.
const cache = new Map();

export function preload(url) {
  if (!cache.has(url)) {
    const image = new Image();
    image.decoding = "async";
    image.src = url;
    const ready = image.decode().then(
      () => image,
      (error) => {
        cache.delete(url);
        throw error;
      },
    );
    cache.set(url, ready);
  }
  return cache.get(url);
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

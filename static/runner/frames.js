// Frame-locked presentation: every change to what is shown is made inside a
// requestAnimationFrame callback, and the callback's timestamp (the start of the frame that
// shows the change, same clock as performance.now()) is its measured onset.

// The median interval between `frames` + 1 consecutive frames, in ms.
export function measureRefresh(frames = 20) {
  return new Promise((resolve) => {
    const stamps = [];
    const tick = (t) => {
      stamps.push(t);
      if (stamps.length <= frames) return requestAnimationFrame(tick);
      const intervals = stamps.slice(1).map((s, i) => s - stamps[i]).sort((a, b) => a - b);
      resolve(intervals[Math.floor(intervals.length / 2)]);
    };
    requestAnimationFrame(tick);
  });
}

// Make `change` in the first frame at least `ms` after the frame `since` (to the nearest
// frame: within half a refresh interval), and resolve with that frame's timestamp; null when
// `signal` is aborted first (nothing is changed then).
export function changeAfter({ since = -Infinity, ms = 0, refreshMs, change, signal }) {
  return new Promise((resolve) => {
    const tick = (t) => {
      if (signal?.aborted) return resolve(null);
      if (t - since < ms - refreshMs / 2) return requestAnimationFrame(tick);
      change();
      resolve(t);
    };
    requestAnimationFrame(tick);
  });
}

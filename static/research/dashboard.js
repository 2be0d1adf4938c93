// Live study dashboard: polls the study's status endpoint and refreshes the progress and quality
// numbers, the charts, the participant table and the results panel without a page reload; the
// pipeline button stays disabled while the study's jobs run. The page works without it.
const POLL_MS = 3000;
const REDRAW_MS = 10000; // the charts and the participant table are redrawn at most this often

function text(name, value) {
  for (const element of document.querySelectorAll(`[data-stat="${name}"]`)) {
    element.textContent = value;
  }
}

function paintNumbers({ progress, quality }) {
  for (const [name, value] of Object.entries(progress)) text(name, String(value));
  text("catch_failures", `${quality.catch_failures} / ${quality.catch_trials}`);
  text("median_rt", quality.median_rt_ms === null ? "—" : `${Math.round(quality.median_rt_ms)} ms`);
  text("flagged", String(quality.flagged));
}

function paintPipeline({ running, models }) {
  const button = document.getElementById("launch-pipeline");
  if (button) button.disabled = running || models === 0;
  const note = document.getElementById("pipeline-running");
  if (note) note.hidden = !running;
}

// The participant table and the results panel are rendered by the server: take them from a
// fresh copy of this page. A fragment the researcher is typing in is left alone.
async function refreshFragments(names) {
  const response = await fetch(location.href, { headers: { Accept: "text/html" } });
  if (!response.ok) return false;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const name of names) {
    const selector = `[data-live-fragment="${name}"]`;
    const current = document.querySelector(selector);
    const replacement = fresh.querySelector(selector);
    if (!current || !replacement || current.contains(document.activeElement)) continue;
    current.innerHTML = replacement.innerHTML;
    Object.assign(current.dataset, replacement.dataset);
  }
  return true;
}

function refreshCharts(version) {
  for (const image of document.querySelectorAll("img[data-chart]")) {
    const url = new URL(image.src, location.href);
    url.searchParams.set("v", version);
    image.src = url.toString();
  }
}

async function poll(url, seen) {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    // not JSON: logged out meanwhile (the log-in page); the numbers stay as they are
    if (response.ok && response.headers.get("Content-Type")?.startsWith("application/json")) {
      const status = await response.json();
      paintNumbers(status);
      paintPipeline(status.pipeline);
      const stale = [];
      const redraw = status.version !== seen.version && Date.now() - seen.redrawnAt >= REDRAW_MS;
      if (redraw) stale.push("participants");
      const reportId = status.report ? String(status.report.id) : "";
      if (reportId !== document.getElementById("results")?.dataset.reportId) stale.push("results");
      if (stale.length && (await refreshFragments(stale)) && redraw) {
        refreshCharts(status.version);
        Object.assign(seen, { version: status.version, redrawnAt: Date.now() });
      }
    }
  } finally {
    setTimeout(() => poll(url, seen), POLL_MS);
  }
}

const url = document.body.dataset.studyStatusUrl;
const seen = { version: document.body.dataset.liveVersion, redrawnAt: 0 };
if (url) setTimeout(() => poll(url, seen), POLL_MS);

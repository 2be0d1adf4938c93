// Live progress bars: every element with data-job-id is refreshed from the status endpoint
// until its job has finished. No framework; the page works (without live updates) without it.
const POLL_MS = 1500;

function paint(element, job) {
  element.querySelector(".bar-fill").style.width = `${job.percent}%`;
  element.querySelector("[data-progress-text]").textContent = `${job.done} / ${job.total}`;
  element.dataset.status = job.status;
  const status = element.querySelector("[data-status-text]");
  if (status) status.textContent = job.status;
  element.setAttribute("aria-valuenow", String(job.percent));
}

async function poll(url) {
  const elements = [...document.querySelectorAll("[data-job-id]")].filter(
    (element) => !["succeeded", "failed", "cancelled"].includes(element.dataset.status),
  );
  if (elements.length === 0) return;
  const ids = elements.map((element) => element.dataset.jobId).join(",");
  try {
    const response = await fetch(`${url}?ids=${ids}`, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const { jobs } = await response.json();
      for (const job of jobs) {
        document.querySelectorAll(`[data-job-id="${job.id}"]`).forEach((element) => paint(element, job));
        if (job.finished && document.body.dataset.reloadOnFinish === String(job.id)) location.reload();
      }
    }
  } finally {
    setTimeout(() => poll(url), POLL_MS);
  }
}

// Bars start at their server-rendered aria-valuenow (no inline styles: the CSP forbids them).
for (const element of document.querySelectorAll("[data-job-id]")) {
  element.querySelector(".bar-fill").style.width = `${element.getAttribute("aria-valuenow")}%`;
}
const url = document.body.dataset.jobsStatusUrl;
if (url) poll(url);

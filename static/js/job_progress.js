// Polls a running job and updates its progress bar until it ends.
(function () {
  const bar = document.getElementById("job-progress");
  if (!bar || !["queued", "running"].includes(bar.dataset.state)) return;
  const tick = async () => {
    const res = await fetch(bar.dataset.url, { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const job = await res.json();
    bar.value = job.progress;
    document.getElementById("job-state").textContent = job.state;
    document.getElementById("job-message").textContent = job.message;
    if (job.state === "queued" || job.state === "running") setTimeout(tick, 1000);
    else if (bar.dataset.reload) window.location.reload();
  };
  setTimeout(tick, 1000);
})();

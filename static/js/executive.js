// Executive rollup trends: one line per region; data from the page's json_script block.
(function () {
  const source = document.getElementById("executive-data");
  if (!source || typeof Chart === "undefined") return;
  const regions = JSON.parse(source.textContent).regions;
  const palette = window.cartportalChart.palette;
  const pct = (v) => (v === null ? null : Math.round(v * 1000) / 10);

  function trend(id, key, asPercent) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    const months = [...new Set(regions.flatMap((r) => r[key].map((p) => p.month)))].sort();
    const datasets = regions.map((r, i) => {
      const byMonth = Object.fromEntries(r[key].map((p) => [p.month, asPercent ? pct(p.value) : p.value]));
      return { label: r.code, data: months.map((m) => (m in byMonth ? byMonth[m] : null)), borderColor: palette[i % palette.length], spanGaps: true };
    });
    const ticks = asPercent ? { callback: (v) => v + "%" } : {};
    new Chart(canvas, {
      type: "line",
      data: { labels: months, datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks } } },
    });
  }
  trend("chart-conversion", "conversion_trend", true);
  trend("chart-abandonment", "abandonment_trend", true);
  trend("chart-revenue", "revenue_trend", false);
})();

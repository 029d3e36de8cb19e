// Behavioural insights charts; the numbers come from the page's json_script block.
(function () {
  const source = document.getElementById("insights-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const pct = (v) => (v === null ? null : Math.round(v * 1000) / 10);
  const palette = window.cartportalChart.palette;
  const axisPct = { y: { beginAtZero: true, ticks: { callback: (v) => v + "%" } } };

  function draw(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    new Chart(canvas, config);
  }

  const cats = data.affinity.categories.slice(0, 12);
  draw("chart-categories", {
    type: "bar",
    data: { labels: cats.map((c) => c.category), datasets: [{ label: "Share of orders (%)", data: cats.map((c) => pct(c.share)), backgroundColor: palette[0] }] },
    options: { scales: axisPct },
  });
  const pairs = data.affinity.pairs;
  draw("chart-pairs", {
    type: "bar",
    data: { labels: pairs.map((p) => p.first + " + " + p.second), datasets: [{ label: "Lift", data: pairs.map((p) => p.lift), backgroundColor: palette[1] }] },
    options: { indexAxis: "y" },
  });
  const bands = data.price.discount;
  draw("chart-discount", {
    type: "bar",
    data: { labels: bands.map((b) => b.band), datasets: [{ label: "Bought (%)", data: bands.map((b) => pct(b.purchase_rate)), backgroundColor: palette[2] }] },
    options: { scales: axisPct },
  });
  const quartiles = data.price.quartiles;
  draw("chart-quartiles", {
    type: "line",
    data: { labels: quartiles.map((q) => q.quartile + " (" + q.price_from.toFixed(2) + "–" + q.price_to.toFixed(2) + ")"), datasets: [{ label: "Bought (%)", data: quartiles.map((q) => pct(q.purchase_rate)), borderColor: palette[3] }] },
    options: { scales: axisPct },
  });
  const depth = data.depth;
  draw("chart-depth", {
    type: "line",
    data: {
      labels: depth.buckets.map((b) => b + " product pages"),
      datasets: depth.segments.map((s, i) => ({ label: s.segment, data: depth.buckets.map((b) => pct(s.depth[b])), borderColor: palette[i % palette.length], spanGaps: true })),
    },
    options: { scales: axisPct },
  });
  const months = data.frequency.months;
  draw("chart-frequency", {
    data: {
      labels: months.map((m) => m.month),
      datasets: [
        { type: "bar", label: "Orders", data: months.map((m) => m.orders), backgroundColor: palette[0], yAxisID: "y" },
        { type: "line", label: "Returning customers (%)", data: months.map((m) => pct(m.returning_share)), borderColor: palette[1], yAxisID: "y1" },
      ],
    },
    options: { scales: { y: { beginAtZero: true }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, ticks: { callback: (v) => v + "%" } } } },
  });
  const hist = data.frequency.orders_per_customer;
  draw("chart-histogram", {
    type: "bar",
    data: { labels: hist.map((h) => h.orders + " orders"), datasets: [{ label: "Customers", data: hist.map((h) => h.customers), backgroundColor: palette[4] }] },
  });
  const ages = data.survey.age_bands;
  draw("chart-ages", {
    type: "bar",
    data: { labels: ages.map((a) => a.band), datasets: [{ label: "Respondents", data: ages.map((a) => a.respondents), backgroundColor: palette[5] }] },
  });
  const reasons = data.survey.abandon_reasons;
  draw("chart-abandon", {
    type: "bar",
    data: { labels: reasons.map((r) => r.answer), datasets: [{ label: "Respondents", data: reasons.map((r) => r.count), backgroundColor: palette[3] }] },
    options: { indexAxis: "y" },
  });
})();

// Abandonment tab: the funnel and the friction drivers by region and by category.
(function () {
  const source = document.getElementById("abandonment-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const named = window.cartportalChart.named;
  const colours = { price: named.red, shipping: named.orange, reviews: named.teal, engagement: named.blue, context: named.grey };

  const funnel = document.getElementById("funnel-chart");
  if (funnel) {
    new Chart(funnel, {
      type: "bar",
      data: {
        labels: data.funnel.map((s) => s.step),
        datasets: [{ label: "Sessions", data: data.funnel.map((s) => s.sessions), backgroundColor: named.blue }],
      },
      options: {
        indexAxis: "y",
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.raw} sessions (${(data.funnel[ctx.dataIndex].share * 100).toFixed(1)} % of all)`,
            },
          },
        },
      },
    });
  }

  const stacked = (canvas, table) => {
    if (!canvas) return;
    const groups = Object.keys(table);
    if (!groups.length) return;
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: groups,
        datasets: data.drivers.map((d) => ({
          label: data.driverLabels[d],
          data: groups.map((g) => table[g][d]),
          backgroundColor: colours[d],
        })),
      },
      options: {
        scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "push towards abandoning" } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: (ctx) => `${ctx.dataset.label}: +${ctx.raw.toFixed(3)} log-odds on average`,
            },
          },
        },
      },
    });
  };
  stacked(document.getElementById("drivers-region-chart"), data.byRegion);
  stacked(document.getElementById("drivers-category-chart"), data.byCategory);
})();

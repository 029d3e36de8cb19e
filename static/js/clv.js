// CLV tab: value by region, cohort value curves and payback by source, from the page's json_script data.
(function () {
  "use strict";
  var node = document.getElementById("clv-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  // The portal's palette (as on the other tabs), readable on light and dark backgrounds.
  var palette = window.cartportalChart.palette;
  var base = { responsive: true, maintainAspectRatio: false, animation: false };
  function opts(extra) { return Object.assign({}, base, extra); }

  new Chart(document.getElementById("clv-regions"), {
    type: "bar",
    data: {
      labels: data.regions.map(function (r) { return r.region; }),
      datasets: [
        { label: "Value to date", data: data.regions.map(function (r) { return r.value_to_date; }), backgroundColor: palette[0] },
        { label: "Predicted next 12 months", data: data.regions.map(function (r) { return r.predicted_12m; }), backgroundColor: palette[1] }
      ]
    },
    options: opts({ plugins: { tooltip: { mode: "index", intersect: false } } })
  });

  new Chart(document.getElementById("clv-curves"), {
    type: "line",
    data: {
      labels: data.curves.months.map(function (m) { return "month " + m; }),
      datasets: data.curves.curves.map(function (c, i) {
        var colour = palette[i % palette.length];
        return { label: c.cohort + " (" + c.customers + ")", data: c.cumulative_per_customer, fill: false,
                 borderColor: colour, backgroundColor: colour, spanGaps: false };
      })
    },
    options: opts({ plugins: { tooltip: { callbacks: {
      label: function (ctx) { return ctx.dataset.label + ": " + ctx.parsed.y.toFixed(2) + " per customer"; }
    } } } })
  });

  new Chart(document.getElementById("clv-payback"), {
    type: "bar",
    data: {
      labels: data.payback.map(function (p) { return p.source; }),
      datasets: [{ label: "Months to pay back acquisition cost", data: data.payback.map(function (p) { return p.payback_months; }), backgroundColor: palette[2] }]
    },
    options: opts({ indexAxis: "y" })
  });
})();

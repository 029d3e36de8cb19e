// CLV tab: value by region, cohort value curves and payback by source, from the page's json_script data.
(function () {
  "use strict";
  var node = document.getElementById("clv-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);

  new Chart(document.getElementById("clv-regions"), {
    type: "bar",
    data: {
      labels: data.regions.map(function (r) { return r.region; }),
      datasets: [
        { label: "Value to date", data: data.regions.map(function (r) { return r.value_to_date; }) },
        { label: "Predicted next 12 months", data: data.regions.map(function (r) { return r.predicted_12m; }) }
      ]
    },
    options: { responsive: true, plugins: { tooltip: { mode: "index", intersect: false } } }
  });

  new Chart(document.getElementById("clv-curves"), {
    type: "line",
    data: {
      labels: data.curves.months.map(function (m) { return "month " + m; }),
      datasets: data.curves.curves.map(function (c) {
        return { label: c.cohort + " (" + c.customers + ")", data: c.cumulative_per_customer, fill: false };
      })
    },
    options: { responsive: true, plugins: { tooltip: { callbacks: {
      label: function (ctx) { return ctx.dataset.label + ": " + ctx.parsed.y.toFixed(2) + " per customer"; }
    } } } }
  });

  new Chart(document.getElementById("clv-payback"), {
    type: "bar",
    data: {
      labels: data.payback.map(function (p) { return p.source; }),
      datasets: [{ label: "Months to pay back acquisition cost", data: data.payback.map(function (p) { return p.payback_months; }) }]
    },
    options: { indexAxis: "y", responsive: true }
  });
})();

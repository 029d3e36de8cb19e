// Personas tab: per region, the k-selection curves (silhouette, BIC) and the persona profiles (z-scores), from the
// page's json_script data (the same payload the API returns).
(function () {
  "use strict";
  var node = document.getElementById("persona-data");
  if (!node || typeof Chart === "undefined") { return; }
  var runs = JSON.parse(node.textContent);

  function selectionChart(run, index) {
    var canvas = document.getElementById("persona-k-" + index);
    if (!canvas) { return; }
    new Chart(canvas, {
      type: "line",
      data: {
        labels: run.selection.map(function (s) { return "k = " + s.k; }),
        datasets: [
          { label: "Silhouette (K-Means)", data: run.selection.map(function (s) { return s.silhouette; }), yAxisID: "silhouette",
            pointRadius: run.selection.map(function (s) { return s.k === run.k ? 7 : 3; }) },
          { label: "BIC (mixture)", data: run.selection.map(function (s) { return s.bic; }), yAxisID: "bic", borderDash: [6, 4] }
        ]
      },
      options: {
        responsive: true,
        scales: {
          silhouette: { type: "linear", position: "left", title: { display: true, text: "Silhouette (higher is better)" } },
          bic: { type: "linear", position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "BIC (lower is better)" } }
        },
        plugins: { tooltip: { callbacks: { afterBody: function (items) {
          return run.selection[items[0].dataIndex].k === run.k ? "chosen k" : "";
        } } } }
      }
    });
  }

  function profileChart(run, index) {
    var canvas = document.getElementById("persona-profile-" + index);
    if (!canvas) { return; }
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: run.features,
        datasets: run.profiles.map(function (p) {
          return { label: p.name + " (" + p.size + ")", data: run.features.map(function (f) { return p.z[f]; }) };
        })
      },
      options: {
        responsive: true,
        scales: { y: { title: { display: true, text: "z-score of the mean" } } },
        plugins: { tooltip: { callbacks: { afterLabel: function (ctx) {
          var mean = run.profiles[ctx.datasetIndex].means[run.features[ctx.dataIndex]];
          return mean === null ? "no member has this feature" : "mean " + mean;
        } } } }
      }
    });
  }

  runs.forEach(function (run, index) {
    selectionChart(run, index);
    profileChart(run, index);
  });
})();

// Visit and conversion rate per arm of one campaign (data from json_script "arm-data").
(function () {
  var node = document.getElementById("arm-data");
  var canvas = document.getElementById("arm-chart");
  if (!node || !canvas || typeof Chart === "undefined") return;
  var rows = JSON.parse(node.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: rows.map(function (r) { return r.arm; }),
      datasets: [
        { label: "Visit rate", data: rows.map(function (r) { return r.visit; }) },
        { label: "Conversion rate", data: rows.map(function (r) { return r.conversion; }) }
      ]
    },
    options: { scales: { y: { beginAtZero: true, ticks: { format: { style: "percent" } } } } }
  });
})();

(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("audience-data").textContent);
  var labels = data.map(function (d) { return d.segment; });
  new Chart(document.getElementById("audience-overall"), {
    type: "bar",
    data: { labels: labels, datasets: [{ label: "Overall score", data: data.map(function (d) { return d.overall; }),
      backgroundColor: data.map(function (d) { return d.valid ? window.cartportalChart.named.blue : window.cartportalChart.named.red; }) }] },
    options: { scales: { y: { min: 0, max: 1 } }, plugins: { tooltip: { callbacks: {
      afterLabel: function (ctx) { return data[ctx.dataIndex].valid ? "valid" : "flagged invalid"; } } } } }
  });
  var largest = Math.max.apply(null, data.map(function (d) { return d.size; }).concat([1]));
  new Chart(document.getElementById("audience-bubble"), {
    type: "bubble",
    data: { datasets: data.map(function (d) {
      return { label: d.segment, data: [{ x: d.profitability, y: d.engagement, r: 4 + 26 * Math.sqrt(d.size / largest), size: d.size }] };
    }) },
    options: { scales: { x: { title: { display: true, text: "Mean net spend" } }, y: { title: { display: true, text: "Mean orders" } } },
      plugins: { tooltip: { callbacks: { label: function (ctx) {
        var p = ctx.raw; return ctx.dataset.label + ": spend " + p.x.toFixed(2) + ", orders " + p.y.toFixed(2) + ", " + p.size + " customers";
      } } } } }
  });
})();

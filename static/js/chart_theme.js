// Chart colours for every chart page, loaded after Chart.js and before the page's own chart script.
// Each series colour reads at 3:1 or more against the light card (#fff) and the dark one (#1b2130), so a chart needs
// no second palette for dark mode; text and grid lines take the page's colours and follow prefers-color-scheme.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }
  var palette = ["#3a7bd5", "#c96a00", "#2e8b3e", "#d9453b", "#8e5cc8", "#0a8f9c", "#a1776a", "#d0467f"];
  var named = { blue: palette[0], orange: palette[1], green: palette[2], red: palette[3], purple: palette[4],
                teal: palette[5], brown: palette[6], pink: palette[7], grey: "#7a869a" };
  window.cartportalChart = {
    palette: palette,
    named: named,
    colour: function (i) { return palette[i % palette.length]; }
  };

  function applyPageColours() {
    var style = getComputedStyle(document.documentElement);
    Chart.defaults.color = style.getPropertyValue("--fg").trim() || "#1d2330";
    Chart.defaults.borderColor = style.getPropertyValue("--grid").trim() || "rgba(29, 35, 48, .12)";
  }

  applyPageColours();
  Chart.defaults.plugins.colors = { enabled: false };
  // A series drawn without colours of its own gets the next palette colour (not Chart.js's light defaults).
  Chart.register({
    id: "cartportalColours",
    beforeUpdate: function (chart) {
      chart.data.datasets.forEach(function (dataset, i) {
        if (!dataset.backgroundColor && !dataset.borderColor) {
          dataset.backgroundColor = window.cartportalChart.colour(i);
          dataset.borderColor = window.cartportalChart.colour(i);
        }
      });
    }
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
      applyPageColours();
      Object.values(Chart.instances).forEach(function (chart) { chart.update(); });
    });
  }
})();

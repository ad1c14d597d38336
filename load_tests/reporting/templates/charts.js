// Draws the report's interactive charts (data: #chart-data, built by reporting/interactive.py) with uPlot.
// Drag across a chart to zoom in on that stretch of time, double-click to zoom out; the tooltip and the
// legend show every series' value at the pointer. Every axis starts at 0: these figures are never negative.
(function () {
  "use strict";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"];
  var UNITS = {users: "users", fps: "/s", streams: "streams"};
  var charts = JSON.parse(document.getElementById("chart-data").textContent);
  var root = document.getElementById("interactive-charts");
  window.loadtestCharts = {};

  function fmt(v, unit) {
    if (v == null || isNaN(v)) return "-";
    var digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    return v.toFixed(digits) + (unit ? " " + unit : "");
  }

  function fromZero(u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; }

  function tooltip(chart) {
    var tip;
    return {
      hooks: {
        init: function (u) {
          tip = document.createElement("div");
          tip.className = "chart-tip";
          tip.style.display = "none";
          u.over.appendChild(tip);
        },
        setCursor: function (u) {
          var i = u.cursor.idx;
          if (i == null) { tip.style.display = "none"; return; }
          var lines = ["t = " + fmt(u.data[0][i], "s")];
          chart.series.forEach(function (s, k) {
            lines.push(s.label + ": " + fmt(u.data[k + 1][i], UNITS[s.scale] || chart.unit));
          });
          tip.textContent = lines.join("\n");
          tip.style.display = "block";
          tip.style.left = Math.min(u.cursor.left + 12, u.over.clientWidth - 160) + "px";
          tip.style.top = Math.max(u.cursor.top - 10, 0) + "px";
        }
      }
    };
  }

  charts.forEach(function (chart) {
    var box = document.createElement("section");
    box.className = "chart";
    box.dataset.chart = chart.id;
    var title = document.createElement("h3");
    title.textContent = chart.title;
    box.appendChild(title);
    root.appendChild(box);
    if (chart.empty || !chart.x.length) {
      var note = document.createElement("p");
      note.className = "empty";
      note.textContent = chart.empty || "Nothing to show.";
      box.appendChild(note);
      return;
    }
    var scales = {x: {time: false}, y: {range: fromZero}};
    var axes = [{label: "seconds since start"}, {label: chart.unit, scale: "y"}];
    chart.series.forEach(function (s) {
      if (s.scale && !scales[s.scale]) {
        scales[s.scale] = {range: fromZero};
        axes.push({label: UNITS[s.scale] || s.scale, scale: s.scale, side: 1, grid: {show: false}});
      }
    });
    var series = [{label: "t", value: function (u, v) { return fmt(v, "s"); }}];
    chart.series.forEach(function (s, k) {
      series.push({
        label: s.label, scale: s.scale || "y", stroke: COLORS[k % COLORS.length], width: 1.5, spanGaps: true,
        points: {show: chart.x.length < 120},
        value: function (u, v) { return fmt(v, UNITS[s.scale] || chart.unit); }
      });
    });
    var data = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    var width = Math.max(Math.min(root.clientWidth || 1000, 1100), 480);
    var plot = new uPlot({width: width, height: 260, scales: scales, axes: axes, series: series,
                          cursor: {drag: {x: true, y: false}}, plugins: [tooltip(chart)]}, data, box);
    window.loadtestCharts[chart.id] = plot;
  });
})();

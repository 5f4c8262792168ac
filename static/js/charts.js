/* Draws every <canvas data-chart="ID"> from the JSON that Django's json_script put in #ID.
   No build step: plain ES2017, Chart.js from static/vendor. The numbers are also on the page as a
   text alternative next to each chart, so a chart that fails to draw loses nothing. */
(function () {
  "use strict";

  var BELOW = "#c0392b";
  var ABOVE = "#1e7b3e";
  var ACCENT = "#0b5cad";
  var INK = "#1b1f24";

  function readData(id) {
    var node = document.getElementById(id);
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (error) { return null; }
  }

  /* A dashed vertical line where the present threshold lies on the 10% buckets. */
  var thresholdLine = {
    id: "thresholdLine",
    afterDatasetsDraw: function (chart, args, options) {
      if (options === undefined || options.threshold === undefined || options.threshold === null) { return; }
      var x = chart.scales.x;
      var area = chart.chartArea;
      var position = options.threshold / 10 - 0.5;
      var first = Math.max(0, Math.min(8, Math.floor(position)));
      var step = x.getPixelForValue(first + 1) - x.getPixelForValue(first);
      var pixel = x.getPixelForValue(first) + (position - first) * step;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = INK;
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(pixel, area.top);
      ctx.lineTo(pixel, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = INK;
      ctx.textAlign = pixel > (area.left + area.right) / 2 ? "right" : "left";
      ctx.fillText(options.label || "", pixel + (ctx.textAlign === "left" ? 4 : -4), area.top + 12);
      ctx.restore();
    }
  };

  /* everyLabel: a bar chart of a few fixed buckets (the ten coverage deciles, the arrival
     buckets) must name every bar, so Chart.js may not skip labels; it rotates them instead when
     they do not fit side by side (a 375 px phone). A line chart over many dates may skip. */
  function axes(data, yMax, everyLabel) {
    var ticks = everyLabel
      ? { color: INK, autoSkip: false, minRotation: 0, maxRotation: 90 }
      : { color: INK, autoSkip: true, maxRotation: 0 };
    return {
      x: { title: { display: true, text: data.axis_x, color: INK }, ticks: ticks },
      y: {
        beginAtZero: true,
        max: yMax,
        title: { display: true, text: data.axis_y, color: INK },
        ticks: { color: INK, precision: 0 }
      }
    };
  }

  function coverageConfig(data) {
    return {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: data.axis_y,
          data: data.values,
          backgroundColor: data.reaches.map(function (reaches) { return reaches ? ABOVE : BELOW; })
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          thresholdLine: { threshold: data.threshold, label: data.threshold + "%" }
        },
        scales: axes(data, undefined, true)
      },
      plugins: [thresholdLine]
    };
  }

  function barConfig(data) {
    return {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: data.series_label, data: data.values, backgroundColor: ACCENT }] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: axes(data, undefined, true)
      }
    };
  }

  function lineConfig(data) {
    return {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [{
          label: data.series_label,
          data: data.values,
          borderColor: ACCENT,
          backgroundColor: ACCENT,
          spanGaps: true,
          tension: 0.2,
          pointRadius: data.values.length > 60 ? 0 : 3
        }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: false } },
        scales: axes(data, data.max)
      }
    };
  }

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    window.Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var data = readData(canvas.getAttribute("data-chart"));
      if (!data) { return; }
      var config;
      if (data.kind === "coverage") { config = coverageConfig(data); }
      else if (data.kind === "line") { config = lineConfig(data); }
      else { config = barConfig(data); }
      canvas.chart = new window.Chart(canvas, config);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());

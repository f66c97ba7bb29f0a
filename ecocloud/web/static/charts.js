// Draws every chart on the page: the figure (Plotly JSON built by the server) sits in a
// non-executable <script type="application/json" id="<chart id>-figure"> block next to it.
(function () {
  "use strict";
  function draw() {
    var charts = document.querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(charts, function (el) {
      var source = document.getElementById(el.id + "-figure");
      if (!source || typeof Plotly === "undefined") {
        el.textContent = "chart unavailable";
        return;
      }
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(el, figure.data, figure.layout, { displaylogo: false, responsive: true }).then(function () {
        el.setAttribute("data-rendered", "true");
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

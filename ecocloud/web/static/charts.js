// Draws every chart on the page: the figure (Plotly JSON built by the server) sits in a
// non-executable <script type="application/json" id="<chart id>-figure"> block next to it.
(function () {
  "use strict";
  // The chart toolbar's words on a Chinese page (plotly.js ships English only; its locale files are
  // not in the plotly package): registered once, chosen by the page's lang.
  var ZH_CN = {
    "Autoscale": "自动缩放",
    "Box Select": "框选",
    "Compare data on hover": "悬停时比较数据",
    "Double-click to zoom back out": "双击恢复缩放",
    "Download plot": "下载图表",
    "Download plot as a PNG": "下载为 PNG 图片",
    "Image download succeeded": "图片已下载",
    "Lasso Select": "套索选择",
    "Pan": "平移",
    "Preparing image - this may take a few seconds": "正在生成图片，请稍候",
    "Reset": "重置",
    "Reset axes": "重置坐标轴",
    "Reset view": "重置视图",
    "Show closest data on hover": "悬停时显示最近的数据",
    "Sorry, there was a problem downloading your image!": "抱歉，图片下载失败",
    "Toggle Spike Lines": "显示或隐藏辅助线",
    "Toggle show closest data on hover": "切换悬停显示最近的数据",
    "Zoom": "缩放",
    "Zoom in": "放大",
    "Zoom out": "缩小"
  };
  var chinese = document.documentElement.lang === "zh-CN";
  function draw() {
    var charts = document.querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(charts, function (el) {
      var source = document.getElementById(el.id + "-figure");
      if (!source || typeof Plotly === "undefined") {
        el.textContent = "chart unavailable";
        return;
      }
      var figure = JSON.parse(source.textContent);
      // no "Share chart..." button: it would send the figure's data to Plotly's cloud, off this site
      var config = { displaylogo: false, responsive: true, showSendToCloud: false };
      if (chinese) {
        config.locale = "zh-CN";
        config.locales = { "zh-CN": { dictionary: ZH_CN } };
      }
      Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
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

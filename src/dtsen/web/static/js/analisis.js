/* Draws the analyst dashboard's Plotly figures: each <div data-plotly="..."> carries its figure as JSON
   (the page has no inline script, as the Content-Security-Policy requires). */
(function () {
  "use strict";
  if (typeof window.Plotly === "undefined") { return; }
  var config = { displaylogo: false, displayModeBar: false, responsive: true };
  document.querySelectorAll("[data-plotly]").forEach(function (element) {
    try {
      var figure = JSON.parse(element.getAttribute("data-plotly"));
      element.classList.add("chart-drawn");
      window.Plotly.newPlot(element, figure.data || [], figure.layout || {}, config);
    } catch (error) {
      element.setAttribute("data-plotly-error", String(error));
    }
  });
}());

/* Draws the analyst dashboard's Plotly figures: each <div data-plotly="..."> carries its figure as JSON
   (the page has no inline script, as the Content-Security-Policy requires). On a phone-sized chart long
   region names are wrapped (so the plot keeps its width), the legend goes under the plot, one entry a row,
   and the chart grows by the legend's rows instead of squeezing the plot. */
(function () {
  "use strict";
  if (typeof window.Plotly === "undefined") { return; }
  var config = { displaylogo: false, displayModeBar: false, responsive: true };
  var NARROW = 600;
  var LEGEND_ROW = 22;
  var LABEL_CHARS = 14;

  function wrap(label) {
    if (typeof label !== "string" || label.length <= LABEL_CHARS) { return label; }
    var middle = label.lastIndexOf(" ", Math.ceil(label.length / 2));
    if (middle < 1) { middle = label.indexOf(" "); }
    return middle < 1 ? label : label.slice(0, middle) + "<br>" + label.slice(middle + 1);
  }

  function fitted(element, figure) {
    var layout = figure.layout || {};
    var width = element.clientWidth;
    if (!width || width >= NARROW) { return layout; }
    var named = 0;
    (figure.data || []).forEach(function (trace) {
      if (trace.orientation === "h" && Array.isArray(trace.y)) { trace.y = trace.y.map(wrap); }
      if (trace.name && trace.showlegend !== false) { named += 1; }
    });
    var rows = named > 1 ? named : 0;
    var margin = layout.margin || {};
    layout.height = (layout.height || 360) + rows * LEGEND_ROW;
    // one legend entry per row at the chart's bottom, below the x axis and its title
    layout.margin = Object.assign({}, margin, { r: 8, b: (margin.b || 40) + rows * LEGEND_ROW + 24 });
    layout.legend = Object.assign({}, layout.legend, {
      orientation: "v", x: 0, xanchor: "left", yref: "container", y: 0, yanchor: "bottom"
    });
    return layout;
  }

  document.querySelectorAll("[data-plotly]").forEach(function (element) {
    try {
      var figure = JSON.parse(element.getAttribute("data-plotly"));
      element.classList.add("chart-drawn");
      window.Plotly.newPlot(element, figure.data || [], fitted(element, figure), config);
    } catch (error) {
      element.setAttribute("data-plotly-error", String(error));
    }
  });
}());

"""The style sheet and the script of a report page, written for steepest (no third-party code).

They live in a Python module (not in .css/.js files) so that every installation of the package
carries them. The script draws every ``<figure class="chart">`` from the JSON spec inside it as
an SVG chart: hover shows the values under the cursor, a drag or the mouse wheel zooms the x
axis, a double-click resets the view, a click on a legend entry hides or shows its curve. It
also makes tables with ``class="sortable"`` sortable by a click on a column's header.

A chart spec is ``{"title", "xlabel", "ylabel", "ylog", "series": [{"name", "x", "y",
"color", "dash", "width", "mode" ("line", "markers" or "both"), "faint"}], "hlines": [{"y",
"label", "color"}]}``; ``y`` values are numbers or null (a gap).
"""

STYLE = """
:root { --fg: #1d2330; --muted: #5b6472; --line: #d9dee6; --bg: #f5f7fa; --card: #fff;
  --accent: #0072B2; --good: #007a5a; --bad: #b8430a; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: var(--fg); background: var(--bg); }
header.top { background: #16263d; color: #fff; padding: 22px 32px 18px; }
header.top h1 { margin: 0 0 4px; font-size: 24px; font-weight: 650; letter-spacing: -0.01em; }
header.top .where { color: #c8d3e3; font-size: 13px; word-break: break-all; }
header.top .badge { display: inline-block; font-size: 12px; font-weight: 600;
  padding: 2px 9px; border-radius: 10px; background: #2f4a70; color: #e6eefb;
  margin-right: 8px; vertical-align: 3px; text-transform: uppercase; letter-spacing: .05em; }
nav.toc { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.96);
  border-bottom: 1px solid var(--line); padding: 8px 32px; font-size: 13px;
  overflow-x: auto; white-space: nowrap; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 18px; }
nav.toc a:hover { text-decoration: underline; }
main { max-width: 1320px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 22px 20px; margin: 18px 0; }
section > h2 { margin: 0 0 10px; font-size: 19px; font-weight: 650; }
section > p.lead, p.note { color: var(--muted); margin: 4px 0 12px; font-size: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr));
  gap: 12px; margin: 6px 0 14px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 9px 13px;
  background: #fbfcfe; min-width: 0; }
.card .k { font-size: 12px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
.card .v { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums; }
.status-completed, .status-held { color: var(--good); }
.status-diverged, .status-failed, .status-not-held { color: var(--bad); }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #edf0f4;
  vertical-align: top; }
th { font-weight: 600; color: #364152; background: #f3f5f9; }
tbody tr:nth-child(even) td { background: #fafbfd; }
td.num { text-align: right; }
tr.best td { background: #fff4d6 !important; font-weight: 600; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; font-size: 10px; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; font-size: 10px; }
.scroll { overflow: auto; max-height: 520px; border: 1px solid var(--line); border-radius: 6px; }
.scroll table { width: 100%; }
.scroll th { position: sticky; top: 0; }
.kv { min-width: 260px; }
.kv th { white-space: nowrap; background: none; color: var(--muted); font-weight: 500; }
.kv td.num { text-align: left; }
.config-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr));
  gap: 14px; }
.config-grid h3 { font-size: 14px; margin: 0 0 4px; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--accent); font-size: 14px; }
pre { background: #f3f5f9; border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas,
  monospace; overflow: auto; max-height: 480px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
.grid.wide { grid-template-columns: 1fr; }
figure { margin: 0; min-width: 0; }
figure figcaption { font-weight: 600; font-size: 14px; margin: 2px 0 4px; }
figure.image { text-align: center; }
figure.image figcaption { text-align: left; }
figure.image img { max-width: min(100%, var(--img-max, 100%)); height: auto;
  border: 1px solid #edf0f4; border-radius: 4px; background: #fff; }
figure.chart { position: relative; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 6px; margin: 0 0 2px; min-height: 22px; }
.legend button { font: inherit; font-size: 12.5px; border: 1px solid var(--line);
  background: #fff; border-radius: 12px; padding: 1px 9px 1px 6px; cursor: pointer;
  color: var(--fg); display: inline-flex; align-items: center; gap: 5px; }
.legend button:hover { border-color: #9aa5b5; }
.legend button.off { opacity: .45; text-decoration: line-through; }
.legend .sw { display: inline-block; width: 16px; height: 0; border-top: 3px solid; }
.plot { position: relative; height: 300px; cursor: crosshair; user-select: none; }
.plot svg { display: block; overflow: visible; }
.plot .axis text, .plot .lbl { font-size: 11.5px; fill: #4a5363; }
.plot .ttl { font-size: 12.5px; fill: #2c3442; font-weight: 600; }
.plot .gridline { stroke: #e6e9ef; stroke-width: 1; }
.plot .frame { fill: none; stroke: #aab3c0; stroke-width: 1; }
.plot .band { fill: rgba(0,114,178,.12); stroke: #0072B2; stroke-dasharray: 3 2; }
.plot .cross { stroke: #555; stroke-width: 1; stroke-dasharray: 3 3; }
.tip { position: absolute; z-index: 4; pointer-events: none; background: rgba(22,38,61,.95);
  color: #fff; font-size: 12.5px; line-height: 1.4; padding: 6px 9px; border-radius: 6px;
  white-space: nowrap; box-shadow: 0 3px 10px rgba(0,0,0,.2); display: none; }
.tip b { font-weight: 600; }
.tip .sw { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
.hint { color: var(--muted); font-size: 12.5px; }
.verdicts { display: grid; gap: 12px; }
.verdict { border: 1px solid var(--line); border-left: 7px solid; border-radius: 8px;
  padding: 11px 16px; display: grid; grid-template-columns: 130px 1fr; gap: 4px 16px;
  background: #fff; }
.verdict.held { border-left-color: #009E73; }
.verdict.not-held { border-left-color: #D55E00; background: #fff8f3; }
.verdict .mark { grid-row: span 2; font-weight: 700; font-size: 16px; align-self: center; }
.verdict.held .mark { color: var(--good); }
.verdict.not-held .mark { color: var(--bad); }
.verdict .claim { font-size: 16px; font-weight: 600; }
.verdict .measured { color: #3a4354; }
.verdict .measured b { color: var(--muted); font-weight: 500; }
.banner { font-size: 17px; font-weight: 650; padding: 10px 16px; border-radius: 8px;
  margin: 4px 0 14px; }
.banner.held { background: #e3f4ee; color: var(--good); }
.banner.not-held { background: #fbe9df; color: var(--bad); }
.prose { max-width: 900px; }
footer { color: var(--muted); font-size: 12.5px; text-align: center; padding: 10px 0 30px; }
@media (max-width: 700px) { .grid { grid-template-columns: 1fr; } main { padding: 4px 8px; }
  .verdict { grid-template-columns: 1fr; } }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var H = 300, M = {l: 66, r: 22, t: 14, b: 46};

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
    });
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) {
      return v.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
    }
    return String(parseFloat(v.toPrecision(4)));
  }

  function linTicks(lo, hi, n, whole) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / n)));
    var r = span / n / step, out = [], v;
    step *= r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1;
    if (whole && step < 1) step = 1;
    for (v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  function logTicks(lo, hi) {  /* lo and hi are log10 values */
    var out = [], k, a = Math.floor(lo), b = Math.ceil(hi);
    var mults = hi - lo <= 2.5 ? [1, 2, 5] : [1], stride = Math.max(1, Math.ceil((b - a) / 7));
    for (k = a; k <= b; k += stride) {
      mults.forEach(function (m) {
        var t = k + Math.log10(m);
        if (t >= lo - 1e-9 && t <= hi + 1e-9) out.push(t);
      });
    }
    if (out.length < 2) return linTicks(lo, hi, 4);
    return out;
  }

  function prepare(spec) {
    var log = !!spec.ylog;
    var tf = function (v) {
      if (v === null || !isFinite(v)) return null;
      if (log) return v > 0 ? Math.log10(v) : null;
      return v;
    };
    var lo = Infinity, hi = -Infinity;
    spec.series.forEach(function (s, i) {
      s.ty = s.y.map(tf);
      s.off = false;
      s.idx = i;
      s.x.forEach(function (x) { if (x < lo) lo = x; if (x > hi) hi = x; });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi === lo) { lo -= 0.5; hi += 0.5; }
    return {tf: tf, full: [lo, hi]};
  }

  function yDomain(c) {
    var lo = Infinity, hi = -Infinity, x0 = c.view[0], x1 = c.view[1];
    c.spec.series.forEach(function (s) {
      if (s.off) return;
      for (var i = 0; i < s.x.length; i++) {
        var v = s.ty[i];
        if (v === null || s.x[i] < x0 || s.x[i] > x1) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    });
    (c.spec.hlines || []).forEach(function (h) {
      var v = c.tf(h.y);
      if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-12) { var d = Math.abs(hi) * 0.05 || 0.5; lo -= d; hi += d; }
    var pad = (hi - lo) * 0.06;
    return [lo - pad, hi + pad];
  }

  function pathOf(c, s) {
    var d = "", pen = false, i, x0 = c.view[0], x1 = c.view[1];
    var lo = 0, hi = s.x.length - 1;
    while (lo < hi && s.x[lo + 1] < x0) lo++;
    while (hi > lo && s.x[hi - 1] > x1) hi--;
    for (i = lo; i <= hi; i++) {
      if (s.ty[i] === null) { pen = false; continue; }
      d += (pen ? "L" : "M") + c.sx(s.x[i]).toFixed(1) + " " + c.sy(s.ty[i]).toFixed(1);
      pen = true;
    }
    return d;
  }

  function marks(c, s) {
    var out = "", i;
    for (i = 0; i < s.x.length; i++) {
      if (s.ty[i] === null || s.x[i] < c.view[0] || s.x[i] > c.view[1]) continue;
      out += '<circle cx="' + c.sx(s.x[i]).toFixed(1) + '" cy="' + c.sy(s.ty[i]).toFixed(1) +
        '" r="3.2" fill="' + s.color + '"/>';
    }
    return out;
  }

  function seriesSvg(c) {
    var p = [];
    c.spec.series.forEach(function (s) {
      if (s.off) return;
      var mode = s.mode || (s.x.length <= 60 ? "both" : "line");
      var op = s.faint ? ' opacity="0.35"' : "";
      p.push('<g data-series="' + s.idx + '"' + op + ">");
      if (mode !== "markers") {
        p.push('<path d="' + pathOf(c, s) + '" fill="none" stroke="' + s.color +
          '" stroke-width="' + (s.width || 2) + '" stroke-linejoin="round"' +
          (s.dash ? ' stroke-dasharray="' + s.dash + '"' : "") + "/>");
      }
      if (mode !== "line") p.push(marks(c, s));
      p.push("</g>");
    });
    (c.spec.hlines || []).forEach(function (h) {
      var v = c.tf(h.y);
      if (v === null) return;
      var y = c.sy(v).toFixed(1);
      p.push('<line x1="' + M.l + '" x2="' + (c.W - M.r) + '" y1="' + y + '" y2="' + y +
        '" stroke="' + (h.color || "#666") + '" stroke-dasharray="6 4" stroke-width="1.3"/>' +
        '<text class="lbl" text-anchor="end" x="' + (c.W - M.r - 4) + '" y="' + (y - 4) +
        '">' + esc(h.label || "") + "</text>");
    });
    return p.join("");
  }

  function axesSvg(c, yd) {
    var p = [], w = c.W - M.l - M.r, h = H - M.t - M.b, log = !!c.spec.ylog;
    var yt = log ? logTicks(yd[0], yd[1]) : linTicks(yd[0], yd[1], 5);
    var xt = linTicks(c.view[0], c.view[1], Math.max(3, Math.round(w / 90)), c.spec.xint);
    p.push('<g class="axis">');
    yt.forEach(function (t) {
      var y = c.sy(t).toFixed(1);
      p.push('<line class="gridline" x1="' + M.l + '" x2="' + (M.l + w) + '" y1="' + y +
        '" y2="' + y + '"/><text x="' + (M.l - 7) + '" y="' + y +
        '" dy="0.32em" text-anchor="end">' + fmt(log ? Math.pow(10, t) : t) + "</text>");
    });
    xt.forEach(function (t) {
      var x = c.sx(t).toFixed(1);
      p.push('<line class="gridline" x1="' + x + '" x2="' + x + '" y1="' + M.t + '" y2="' +
        (M.t + h) + '"/><text x="' + x + '" y="' + (M.t + h + 16) +
        '" text-anchor="middle">' + fmt(t) + "</text>");
    });
    p.push("</g>");
    p.push('<rect class="frame" x="' + M.l + '" y="' + M.t + '" width="' + w + '" height="' +
      h + '"/>');
    p.push('<text class="ttl" x="' + (M.l + w / 2) + '" y="' + (H - 6) +
      '" text-anchor="middle">' + esc(c.spec.xlabel || "") + "</text>");
    p.push('<text class="ttl" transform="translate(15 ' + (M.t + h / 2) +
      ') rotate(-90)" text-anchor="middle">' + esc(c.spec.ylabel || "") +
      (log ? " (log)" : "") + "</text>");
    return p.join("");
  }

  function render(c) {
    c.W = Math.max(300, c.plot.clientWidth || 600);
    var w = c.W - M.l - M.r, h = H - M.t - M.b, yd = yDomain(c), xd = c.view;
    c.sx = function (x) { return M.l + (x - xd[0]) / (xd[1] - xd[0]) * w; };
    c.sy = function (v) { return M.t + h - (v - yd[0]) / (yd[1] - yd[0]) * h; };
    c.ix = function (px) { return xd[0] + (px - M.l) / w * (xd[1] - xd[0]); };
    c.plot.innerHTML = '<svg width="' + c.W + '" height="' + H + '" role="img" aria-label="' +
      esc(c.spec.title || "") + '"><defs><clipPath id="' + c.id + '-clip"><rect x="' +
      (M.l - 5) + '" y="' + (M.t - 5) + '" width="' + (w + 10) + '" height="' + (h + 10) +
      '"/></clipPath></defs>' +
      axesSvg(c, yd) + '<g clip-path="url(#' + c.id + '-clip)">' + seriesSvg(c) + "</g>" +
      '<line class="cross" y1="' + M.t + '" y2="' + (M.t + h) + '" visibility="hidden"/>' +
      '<g class="dots"></g><rect class="band" y="' + M.t + '" height="' + h +
      '" width="0" visibility="hidden"/></svg>';
    c.plot.appendChild(c.tip);
  }

  function nearest(xs, x) {
    var lo = 0, hi = xs.length - 1, mid;
    while (hi - lo > 1) {
      mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid; else hi = mid;
    }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
  }

  function hover(c, px, py) {
    var svg = c.plot.querySelector("svg"), cross = svg.querySelector(".cross");
    if (px < M.l || px > c.W - M.r || py < M.t || py > H - M.b) { unhover(c); return; }
    var x = c.ix(px), rows = [], dots = "", head = null;
    c.spec.series.forEach(function (s) {
      if (s.off || !s.x.length) return;
      var i = nearest(s.x, x);
      if (s.ty[i] === null) return;
      if (head === null) head = s.x[i];
      dots += '<circle cx="' + c.sx(s.x[i]).toFixed(1) + '" cy="' + c.sy(s.ty[i]).toFixed(1) +
        '" r="4.5" fill="' + s.color + '" stroke="#fff" stroke-width="1.5"/>';
      rows.push('<span class="sw" style="background:' + s.color + '"></span>' + esc(s.name) +
        ": <b>" + fmt(s.y[i]) + "</b>" +
        (s.x[i] !== head ? ' <span style="opacity:.7">(at ' + esc(c.spec.xname || "x") + " " +
          fmt(s.x[i]) + ")</span>" : ""));
    });
    if (!rows.length) { unhover(c); return; }
    var cx = c.sx(head).toFixed(1);
    cross.setAttribute("x1", cx);
    cross.setAttribute("x2", cx);
    cross.setAttribute("visibility", "visible");
    svg.querySelector(".dots").innerHTML = dots;
    c.tip.innerHTML = "<div>" + esc(c.spec.xname || "x") + " <b>" + fmt(head) + "</b></div>" +
      rows.join("<br>");
    c.tip.style.display = "block";
    var box = c.plot.getBoundingClientRect(), room = window.innerWidth - box.left - 8;
    var tw = c.tip.offsetWidth, th = c.tip.offsetHeight, left = px + 18;
    if (left + tw > room) left = Math.max(-box.left, px - tw - 18);
    var top = py < H / 2 ? py + 14 : py - th - 14;
    c.tip.style.left = left + "px";
    c.tip.style.top = Math.max(0, Math.min(top, H - th)) + "px";
  }

  function unhover(c) {
    var svg = c.plot.querySelector("svg");
    if (!svg) return;
    svg.querySelector(".cross").setAttribute("visibility", "hidden");
    svg.querySelector(".dots").innerHTML = "";
    c.tip.style.display = "none";
  }

  function zoomTo(c, a, b) {
    var f = c.full, lo = Math.max(f[0], Math.min(a, b)), hi = Math.min(f[1], Math.max(a, b));
    if (hi - lo < (f[1] - f[0]) * 1e-6) return;
    c.view = [lo, hi];
    render(c);
  }

  function local(c, e) {
    var r = c.plot.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  function bindPlot(c) {
    var drag = null;
    c.plot.addEventListener("mousemove", function (e) {
      var p = local(c, e);
      if (drag) {
        var band = c.plot.querySelector(".band"), x = Math.max(M.l, Math.min(c.W - M.r, p[0]));
        band.setAttribute("x", Math.min(x, drag));
        band.setAttribute("width", Math.abs(x - drag));
        band.setAttribute("visibility", "visible");
        return;
      }
      hover(c, p[0], p[1]);
    });
    c.plot.addEventListener("mouseleave", function () { unhover(c); });
    c.plot.addEventListener("mousedown", function (e) {
      var p = local(c, e);
      if (e.button !== 0 || p[0] < M.l || p[0] > c.W - M.r) return;
      drag = p[0];
      unhover(c);
      e.preventDefault();
    });
    window.addEventListener("mouseup", function (e) {
      if (drag === null) return;
      var x = Math.max(M.l, Math.min(c.W - M.r, local(c, e)[0])), from = drag;
      drag = null;
      if (Math.abs(x - from) > 4) zoomTo(c, c.ix(from), c.ix(x));
      else c.plot.querySelector(".band").setAttribute("visibility", "hidden");
    });
    c.plot.addEventListener("wheel", function (e) {
      var p = local(c, e), f = c.full, v = c.view;
      var zoomedOut = v[0] <= f[0] && v[1] >= f[1];
      if (e.deltaY > 0 && zoomedOut) return;  /* let the page scroll */
      e.preventDefault();
      var k = e.deltaY > 0 ? 1.25 : 0.8, at = c.ix(Math.max(M.l, Math.min(c.W - M.r, p[0])));
      zoomTo(c, at - (at - v[0]) * k, at + (v[1] - at) * k);
    }, {passive: false});
    c.plot.addEventListener("dblclick", function () { c.view = c.full.slice(); render(c); });
  }

  function legend(c, box) {
    c.spec.series.forEach(function (s) {
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("aria-pressed", "true");
      b.title = "show or hide this curve";
      b.innerHTML = '<span class="sw" style="border-color:' + s.color +
        (s.dash ? ";border-top-style:dashed" : "") + (s.faint ? ";opacity:.4" : "") +
        '"></span>' + esc(s.name);
      b.addEventListener("click", function () {
        s.off = !s.off;
        b.classList.toggle("off", s.off);
        b.setAttribute("aria-pressed", String(!s.off));
        render(c);
      });
      box.appendChild(b);
    });
  }

  function chart(fig, n) {
    var spec = JSON.parse(fig.querySelector("script").textContent);
    var c = {spec: spec, id: "chart" + n, view: null};
    var pre = prepare(spec);
    c.tf = pre.tf;
    c.full = pre.full;
    c.view = c.full.slice();
    var box = document.createElement("div");
    box.className = "legend";
    fig.appendChild(box);
    c.plot = document.createElement("div");
    c.plot.className = "plot";
    fig.appendChild(c.plot);
    c.tip = document.createElement("div");
    c.tip.className = "tip";
    c.tip.setAttribute("role", "status");
    legend(c, box);
    render(c);
    bindPlot(c);
    return c;
  }

  function cellValue(td) {
    var t = td.getAttribute("data-v");
    if (t === null) t = td.textContent;
    var v = parseFloat(t);
    return isNaN(v) || !/^\s*[-+.\d]/.test(t) ? t.toLowerCase() : v;
  }

  function sortable(table) {
    var ths = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(ths, function (th, col) {
      th.title = "sort by this column";
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        rows.sort(function (a, b) {
          var u = cellValue(a.cells[col]), v = cellValue(b.cells[col]);
          if (typeof u !== typeof v) return typeof u === "number" ? -dir : dir;
          return u < v ? -dir : u > v ? dir : 0;
        });
        Array.prototype.forEach.call(ths, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  function start() {
    var charts = [], figs = document.querySelectorAll("figure.chart"), timer = null;
    Array.prototype.forEach.call(figs, function (fig, i) { charts.push(chart(fig, i)); });
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { charts.forEach(render); }, 120);
    });
    document.documentElement.setAttribute("data-ready", String(Math.round(performance.now())));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
"""

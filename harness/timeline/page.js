// heddle's failure page: draws the run's lanes on a canvas from the data
// block above. Only the lanes in view are drawn, and of the marks that fall
// within a few pixels of each other on a lane only the most telling one, so
// a full redraw of 100,000 events takes tens of milliseconds. Nothing is
// fetched.
(function () {
  'use strict';
  var root = document.documentElement;
  var errors = [];
  function fail(msg) {
    errors.push(String(msg));
    root.setAttribute('data-errors', errors.join(' | '));
  }
  window.addEventListener('error', function (e) { fail(e.message || 'error'); });
  window.addEventListener('unhandledrejection', function (e) { fail('unhandled rejection: ' + e.reason); });

  var D = JSON.parse(document.getElementById('heddle-data').textContent);
  function arr(a) { return a || []; }

  // ---- events ------------------------------------------------------------
  var N = arr(D.lane).length;
  var step = new Float64Array(N), time = new Float64Array(N);
  var laneOf = Int32Array.from(arr(D.lane)), kindOf = Uint8Array.from(arr(D.kind));
  var siteOf = Int32Array.from(arr(D.site)), detailOf = Int32Array.from(arr(D.detail));
  (function () {
    var s = 0, t = 0, ds = arr(D.dstep), dt = arr(D.dtime);
    for (var i = 0; i < N; i++) { s += ds[i]; t += dt[i]; step[i] = s; time[i] = t; }
  })();
  var lanes = arr(D.lanes), L = lanes.length, CLOCK = L; // the clock row holds the events of no lane
  var sites = arr(D.sites), strings = arr(D.strings), files = arr(D.files), bands = arr(D.bands), marks = arr(D.marks);
  bands.forEach(function (b) { b.lanes = arr(b.lanes); b.nodes = arr(b.nodes); });
  var kinds = arr(D.kinds);
  var K = {};
  kinds.forEach(function (k, i) { K[k] = i; });

  // perLane groups indices by lane: start[l]..start[l+1] in idx.
  function perLane(laneArr, n) {
    var start = new Int32Array(L + 2), idx = new Int32Array(n), fill;
    for (var i = 0; i < n; i++) { var l = laneArr[i]; start[(l < 0 ? CLOCK : l) + 1]++; }
    for (var l2 = 0; l2 <= L; l2++) start[l2 + 1] += start[l2];
    fill = Int32Array.from(start);
    for (var j = 0; j < n; j++) { var m = laneArr[j]; m = m < 0 ? CLOCK : m; idx[fill[m]++] = j; }
    return { start: start, idx: idx };
  }
  var evBy = perLane(laneOf, N);
  var runs = { lane: arr(D.runLane), from: arr(D.runFrom), to: arr(D.runTo) };
  var runBy = perLane(runs.lane, runs.lane.length);
  var blocks = { lane: arr(D.blockLane), from: arr(D.blockFrom), to: arr(D.blockTo), kind: arr(D.blockKind) };
  var blockBy = perLane(blocks.lane, blocks.lane.length);
  var pre = { at: arr(D.preemptAt), lane: arr(D.preemptLane) };
  var preBy = perLane(pre.lane, pre.at.length);
  var preemptedAt = {};
  pre.at.forEach(function (at, k) { preemptedAt[at] = pre.lane[k]; });
  var markedLane = new Uint8Array(L), markedEvent = {};
  marks.forEach(function (m) {
    markedLane[m.lane] = Math.max(markedLane[m.lane], m.maybe ? 1 : 2);
    if (m.event >= 0) markedEvent[m.event] = m;
  });

  // ---- rows --------------------------------------------------------------
  var LANE_H = 18, GROUP_H = 20, AXIS_H = 30, LABEL_W = 132;
  var rows = []; // {type: 'clock'|'group'|'lane', lane, group, top, h}
  var laneRow = new Int32Array(L + 1).fill(-1);
  var totalH = 0;
  function addRow(r) { r.top = totalH; totalH += r.h; rows.push(r); return rows.length - 1; }
  if (evBy.start[CLOCK + 1] - evBy.start[CLOCK] > 0) laneRow[CLOCK] = addRow({ type: 'clock', lane: CLOCK, h: LANE_H });
  var groupRow = {};
  arr(D.groups).forEach(function (g, gi) {
    groupRow[g.node] = addRow({ type: 'group', group: gi, node: g.node, h: GROUP_H });
    g.lanes.forEach(function (l) { laneRow[l] = addRow({ type: 'lane', lane: l, group: gi, h: LANE_H }); });
  });
  function rowAt(y) { // y in content coordinates
    var lo = 0, hi = rows.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (rows[mid].top <= y) lo = mid; else hi = mid - 1; }
    return rows.length && y >= 0 && y < totalH ? lo : -1;
  }

  // ---- look --------------------------------------------------------------
  var COLORS = {
    step: '#8a96a3', wake: '#2e7d32', go: '#1565c0', lock: '#ef6c00', send: '#00897b', receive: '#00695c',
    sleep: '#7b1fa2', select: '#0097a7', wait: '#6d4c41', net: '#827717', block: '#455a64', exit: '#263238',
    panic: '#c62828', timer: '#f9a825', note: '#5c6bc0', fault: '#ad1457'
  };
  var PRIO = { step: 0, timer: 1, note: 2, exit: 3, go: 4, wake: 5, block: 6, net: 6, wait: 6, select: 6, sleep: 6,
    receive: 7, send: 7, lock: 7, fault: 8, panic: 9 };
  var BAND = { crash: 'rgba(198,40,40,0.13)', blackhole: 'rgba(66,66,66,0.16)', restart: 'rgba(46,125,50,0.55)',
    partition: 'rgba(239,108,0,0.14)', isolate: 'rgba(239,108,0,0.14)', heal: 'rgba(46,125,50,0.55)',
    delay: 'rgba(249,168,37,0.16)', drop: 'rgba(249,168,37,0.16)', duplicate: 'rgba(249,168,37,0.16)',
    reorder: 'rgba(249,168,37,0.16)', nemesis: 'rgba(173,20,87,0.45)', action: 'rgba(173,20,87,0.45)' };
  var BAND_LINE = { crash: '#c62828', blackhole: '#424242', partition: '#ef6c00', isolate: '#ef6c00',
    delay: '#f9a825', drop: '#f9a825', duplicate: '#f9a825', reorder: '#f9a825' };
  function groupHue(gi) { return (gi * 67 + 205) % 360; }
  var kindColor = kinds.map(function (k) { return COLORS[k] || '#455a64'; });
  var kindPrio = kinds.map(function (k) { return PRIO[k] || 0; });
  var shown = kinds.map(function () { return true; });

  function shape(ctx, k, x, cy, s) {
    var name = kinds[k];
    ctx.fillStyle = kindColor[k];
    ctx.strokeStyle = kindColor[k];
    switch (name) {
      case 'step': ctx.fillRect(x - 0.5, cy - s + 1, 1, 2 * s - 2); break;
      case 'wake': tri(ctx, x, cy, s, 'up'); break;
      case 'go': ctx.beginPath(); ctx.moveTo(x, cy - s); ctx.lineTo(x + s, cy); ctx.lineTo(x, cy + s); ctx.lineTo(x - s, cy); ctx.fill(); break;
      case 'send': tri(ctx, x, cy, s, 'right'); break;
      case 'receive': tri(ctx, x, cy, s, 'left'); break;
      case 'sleep': case 'net': case 'timer':
        ctx.beginPath(); ctx.arc(x, cy, name === 'timer' ? s - 1.5 : s - 0.5, 0, 6.2832); ctx.fill(); break;
      case 'select': ctx.lineWidth = 1.5; ctx.strokeRect(x - s + 1, cy - s + 1, 2 * s - 2, 2 * s - 2); break;
      case 'exit': ctx.fillRect(x - 1.5, cy - s, 3, 2 * s); break;
      case 'panic':
        ctx.lineWidth = 2.2; ctx.beginPath(); ctx.moveTo(x - s, cy - s); ctx.lineTo(x + s, cy + s);
        ctx.moveTo(x + s, cy - s); ctx.lineTo(x - s, cy + s); ctx.stroke(); break;
      case 'fault':
        ctx.beginPath(); ctx.moveTo(x, cy - s - 1); ctx.lineTo(x + s, cy); ctx.lineTo(x, cy + s + 1); ctx.lineTo(x - s, cy); ctx.fill();
        ctx.fillStyle = '#fff'; ctx.fillRect(x - 1, cy - 1, 2, 2); break;
      case 'note': ctx.fillRect(x - s + 2, cy - s + 2, 2 * s - 4, 2 * s - 4); break;
      default: ctx.fillRect(x - s + 1, cy - s + 1, 2 * s - 2, 2 * s - 2);
    }
  }
  function tri(ctx, x, cy, s, dir) {
    ctx.beginPath();
    if (dir === 'up') { ctx.moveTo(x, cy - s); ctx.lineTo(x + s, cy + s - 1); ctx.lineTo(x - s, cy + s - 1); }
    else if (dir === 'down') { ctx.moveTo(x - s, cy - s); ctx.lineTo(x + s, cy - s); ctx.lineTo(x, cy + s); }
    else if (dir === 'right') { ctx.moveTo(x - s + 1, cy - s); ctx.lineTo(x + s, cy); ctx.lineTo(x - s + 1, cy + s); }
    else { ctx.moveTo(x + s - 1, cy - s); ctx.lineTo(x - s, cy); ctx.lineTo(x + s - 1, cy + s); }
    ctx.fill();
  }

  // ---- the axis ----------------------------------------------------------
  var mode = 'order';
  var maxTime = N ? time[N - 1] : 0;
  function dmax() { return mode === 'order' ? Math.max(N, 1) : Math.max(maxTime, 1); }
  function evX(i) { return mode === 'order' ? i + 0.5 : time[i]; }
  function edgeX(i) { return i >= N ? dmax() : (mode === 'order' ? i : time[i]); }
  var v0 = 0, v1 = dmax();
  function fmtTime(ns) {
    if (ns === 0) return '0s';
    var neg = ns < 0; if (neg) ns = -ns;
    var s;
    if (ns < 1e3) s = ns.toFixed(0) + 'ns';
    else if (ns < 1e6) s = trim(ns / 1e3) + 'µs';
    else if (ns < 1e9) s = trim(ns / 1e6) + 'ms';
    else if (ns < 60e9) s = trim(ns / 1e9) + 's';
    else { var m = Math.floor(ns / 60e9); s = m + 'm' + trim((ns - m * 60e9) / 1e9) + 's'; }
    return (neg ? '-' : '') + s;
  }
  function trim(v) { return String(Math.round(v * 1000) / 1000); }
  function niceStep(span, px) {
    var raw = span / Math.max(1, px / 110), p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  }
  // eventAtX returns the first event at or after domain position x.
  function eventAtX(x) {
    if (mode === 'order') return Math.max(0, Math.min(N - 1, Math.floor(x)));
    var lo = 0, hi = N - 1;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (time[mid] < x) lo = mid + 1; else hi = mid; }
    return lo;
  }
  // first returns the first position k in [lo, hi) of list whose x (by xf) is >= x.
  function first(list, lo, hi, xf, x) {
    while (lo < hi) { var mid = (lo + hi) >> 1; if (xf(list[mid]) < x) lo = mid + 1; else hi = mid; }
    return lo;
  }

  // ---- canvas ------------------------------------------------------------
  var box = document.getElementById('timeline'), canvas = document.getElementById('timeline-canvas');
  var spacer = document.getElementById('timeline-spacer'), ov = document.getElementById('overview');
  var tip = document.getElementById('tooltip'), panel = document.getElementById('panel');
  var ctx = canvas.getContext('2d'), octx = ov.getContext('2d');
  var W = 0, H = 0, dpr = 1, plotW = 1;
  var selected = -1, selectedBand = -1;
  function size() {
    dpr = window.devicePixelRatio || 1;
    W = box.clientWidth; H = box.clientHeight;
    canvas.style.height = H + 'px';
    canvas.width = Math.max(1, Math.round(W * dpr)); canvas.height = Math.max(1, Math.round(H * dpr));
    spacer.style.height = Math.max(0, totalH + AXIS_H - H) + 'px';
    plotW = Math.max(1, W - LABEL_W);
    var ow = ov.clientWidth;
    ov.width = Math.max(1, Math.round(ow * dpr)); ov.height = Math.round(44 * dpr);
    density = null;
  }
  function toPx(x) { return LABEL_W + (x - v0) * plotW / (v1 - v0); }
  function fromPx(px) { return v0 + (px - LABEL_W) * (v1 - v0) / plotW; }

  var drawn = 0, drawMs = 0;
  function draw() {
    var t0 = performance.now();
    pending = false;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    var scroll = box.scrollTop, top = scroll, bottom = scroll + H - AXIS_H;
    var r0 = Math.max(0, rowAt(top)), pad = 8 * (v1 - v0) / plotW;
    var x0 = v0 - pad, x1 = v1 + pad;
    drawn = 0;
    // Rows: stripes and group headers.
    for (var r = r0; r < rows.length && rows[r].top < bottom; r++) {
      var row = rows[r], y = row.top - scroll + AXIS_H;
      if (row.type === 'group') {
        ctx.fillStyle = 'hsl(' + groupHue(row.group) + ',35%,93%)';
        ctx.fillRect(0, y, W, row.h);
      } else if (row.type === 'lane' && markedLane[row.lane]) {
        ctx.fillStyle = markedLane[row.lane] > 1 ? 'rgba(198,40,40,0.08)' : 'rgba(198,40,40,0.03)';
        ctx.fillRect(LABEL_W, y, W, row.h);
      } else if (r % 2) {
        ctx.fillStyle = '#fafbfc'; ctx.fillRect(LABEL_W, y, W, row.h);
      }
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, plotW, H - AXIS_H); ctx.clip();
    drawBands(scroll, bottom);
    for (r = r0; r < rows.length && rows[r].top < bottom; r++) {
      row = rows[r];
      if (row.type === 'group') continue;
      y = row.top - scroll + AXIS_H;
      drawSpans(row.lane, y, x0, x1);
      drawMarks(row.lane, y, x0, x1);
      drawPreemptions(row.lane, y, x0, x1);
    }
    drawViolationMarks(scroll, bottom);
    if (selected >= 0) {
      var sx = toPx(evX(selected));
      ctx.strokeStyle = 'rgba(31,95,168,0.55)'; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(sx, AXIS_H); ctx.lineTo(sx, H); ctx.stroke();
      var sr = laneRow[laneOf[selected] < 0 ? CLOCK : laneOf[selected]];
      if (sr >= 0) {
        var sy = rows[sr].top - scroll + AXIS_H + rows[sr].h / 2;
        ctx.strokeStyle = '#1f5fa8'; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(sx, sy, 8, 0, 6.2832); ctx.stroke();
      }
    }
    ctx.restore();
    drawLabels(r0, scroll, bottom);
    drawAxis();
    drawOverview();
    drawMs = performance.now() - t0;
  }

  function drawBands(scroll, bottom) {
    var labelEnd = {}; // per header row, where the last label drawn ends
    for (var b = 0; b < bands.length; b++) {
      var band = bands[b], xa = toPx(edgeX(band.from)), xb = toPx(edgeX(band.to));
      if (xb < LABEL_W || xa > W) continue;
      var instant = band.to - band.from <= 1 && band.kind !== 'crash' && band.kind !== 'blackhole';
      if (xb - xa < 2) { xb = xa + 2; }
      ctx.fillStyle = BAND[band.kind] || 'rgba(173,20,87,0.2)';
      if (instant) { xa -= 1; xb = xa + 3; }
      var rowsOf = [];
      if (band.all) { ctx.fillRect(xa, AXIS_H, xb - xa, H - AXIS_H); }
      else {
        band.lanes.forEach(function (l) { rowsOf.push(laneRow[l]); });
        band.nodes.forEach(function (n) { if (groupRow[n] !== undefined) rowsOf.push(groupRow[n]); });
        rowsOf.forEach(function (r) {
          if (r < 0) return;
          var row = rows[r];
          if (row.top + row.h < scroll || row.top > bottom) return;
          ctx.fillRect(xa, row.top - scroll + AXIS_H, xb - xa, row.h);
        });
      }
      // The band's label, on its nodes' header rows (or the top for a band across every lane).
      ctx.fillStyle = BAND_LINE[band.kind] || '#ad1457';
      var labelRows = band.all ? [] : band.nodes.map(function (n) { return groupRow[n]; });
      labelRows.forEach(function (r) {
        if (r === undefined) return;
        var row = rows[r], y = row.top - scroll + AXIS_H;
        if (y + row.h < AXIS_H || y > H) return;
        ctx.fillRect(xa, y, Math.max(2, Math.min(3, xb - xa)), row.h);
        if ((labelEnd[r] || -1e9) > xa) return; // it would cover the label of the band before it
        ctx.fillText(band.label, xa + 5, y + row.h / 2);
        labelEnd[r] = xa + 5 + ctx.measureText(band.label).width + 6;
      });
    }
  }

  function drawSpans(l, y, x0, x1) {
    var hue = l < L ? groupHue(rows[laneRow[l]].group) : 210;
    var s = runBy.start[l], e = runBy.start[l + 1], idx = runBy.idx;
    var k = first(idx, s, e, function (j) { return edgeX(runs.to[j]); }, x0);
    ctx.fillStyle = 'hsl(' + hue + ',55%,78%)';
    var lastEnd = -1e9, runStart = 0;
    for (; k < e; k++) {
      var j = idx[k], xa = edgeX(runs.from[j]);
      if (xa > x1) break;
      var pa = toPx(xa), pb = toPx(edgeX(runs.to[j]));
      if (pa <= lastEnd + 1) { lastEnd = Math.max(lastEnd, pb); continue; }
      if (lastEnd > -1e9) ctx.fillRect(runStart, y + 5, Math.max(1, lastEnd - runStart), LANE_H - 10);
      runStart = pa; lastEnd = pb;
    }
    if (lastEnd > -1e9) ctx.fillRect(runStart, y + 5, Math.max(1, lastEnd - runStart), LANE_H - 10);
    s = blockBy.start[l]; e = blockBy.start[l + 1]; idx = blockBy.idx;
    k = first(idx, s, e, function (j) { return edgeX(blocks.to[j]); }, x0);
    ctx.globalAlpha = 0.55;
    for (; k < e; k++) {
      j = idx[k]; xa = edgeX(blocks.from[j]);
      if (xa > x1) break;
      pa = toPx(xa); pb = toPx(edgeX(blocks.to[j]));
      if (pb - pa < 0.5) continue;
      ctx.fillStyle = kindColor[blocks.kind[j]];
      ctx.fillRect(pa, y + LANE_H / 2 - 1, pb - pa, 2);
    }
    ctx.globalAlpha = 1;
  }

  function drawMarks(l, y, x0, x1) {
    var s = evBy.start[l], e = evBy.start[l + 1], idx = evBy.idx, cy = y + LANE_H / 2;
    var k = first(idx, s, e, evX, x0), col = -1e9, best = -1, bestKind = 0;
    var dense = (e - s) * (plotW / (v1 - v0)) > plotW; // more marks than pixels in this lane's run
    var size = dense ? 3.5 : 5;
    for (; k < e; k++) {
      var i = idx[k], x = evX(i);
      if (x > x1) break;
      var kk = kindOf[i];
      if (!shown[kk]) continue;
      var px = Math.round(toPx(x));
      if (px >= col + 3 || px < col) { // a new cell of three pixels
        if (best >= 0) { shape(ctx, bestKind, col, cy, size); drawn++; }
        col = px; best = i; bestKind = kk;
      } else if (kindPrio[kk] > kindPrio[bestKind]) { best = i; bestKind = kk; }
    }
    if (best >= 0) { shape(ctx, bestKind, col, cy, size); drawn++; }
  }

  function drawPreemptions(l, y, x0, x1) {
    var s = preBy.start[l], e = preBy.start[l + 1], idx = preBy.idx;
    var k = first(idx, s, e, function (j) { return evX(pre.at[j]); }, x0), last = -1e9;
    ctx.fillStyle = '#d50000';
    for (; k < e; k++) {
      var x = evX(pre.at[idx[k]]);
      if (x > x1) break;
      var px = toPx(x);
      if (px - last < 5) continue; // one triangle per few pixels when zoomed out
      last = px;
      tri(ctx, px, y + 4, 3.5, 'down');
    }
  }

  function drawViolationMarks(scroll, bottom) {
    ctx.strokeStyle = '#c62828'; ctx.lineWidth = 2;
    marks.forEach(function (m) {
      var r = laneRow[m.lane];
      if (r < 0) return;
      var row = rows[r];
      if (row.top + row.h < scroll || row.top > bottom) return;
      var y = row.top - scroll + AXIS_H + row.h / 2;
      if (m.event >= 0) {
        var x = toPx(evX(m.event));
        ctx.beginPath(); ctx.arc(x, y, 7.5, 0, 6.2832); ctx.stroke();
      }
    });
  }

  function drawLabels(r0, scroll, bottom) {
    ctx.save();
    ctx.fillStyle = '#fff'; ctx.fillRect(0, AXIS_H, LABEL_W, H);
    ctx.beginPath(); ctx.rect(0, AXIS_H, LABEL_W, H - AXIS_H); ctx.clip();
    for (var r = r0; r < rows.length && rows[r].top < bottom; r++) {
      var row = rows[r], y = row.top - scroll + AXIS_H, cy = y + row.h / 2;
      if (row.type === 'group') {
        ctx.fillStyle = 'hsl(' + groupHue(row.group) + ',35%,88%)'; ctx.fillRect(0, y, LABEL_W, row.h);
        ctx.fillStyle = '#1d232a'; ctx.font = '600 11.5px system-ui, sans-serif';
        ctx.fillText(row.node ? 'node ' + row.node : 'no node', 6, cy);
        continue;
      }
      ctx.font = '11px ui-monospace, monospace';
      if (row.type === 'clock') { ctx.fillStyle = '#5f6b76'; ctx.fillText('clock, notes', 8, cy); continue; }
      var ln = lanes[row.lane];
      if (markedLane[row.lane] > 1) { ctx.fillStyle = '#fdecea'; ctx.fillRect(0, y, LABEL_W, row.h); }
      ctx.fillStyle = markedLane[row.lane] > 1 ? '#c62828' : markedLane[row.lane] ? '#b35c5c' : '#1d232a';
      ctx.fillText('g' + ln.g, 14, cy);
      ctx.fillStyle = '#8a96a3';
      var end = ln.end.indexOf('blocked') === 0 ? 'blocked' : ln.end.indexOf('killed') === 0 ? 'killed' :
        ln.end.indexOf('panicked') === 0 ? 'panicked' : ln.end;
      ctx.fillText(end, 58, cy);
    }
    ctx.restore();
    ctx.fillStyle = '#d5dbe1'; ctx.fillRect(LABEL_W - 1, AXIS_H, 1, H);
  }

  function drawAxis() {
    ctx.fillStyle = '#f4f6f8'; ctx.fillRect(0, 0, W, AXIS_H);
    ctx.fillStyle = '#d5dbe1'; ctx.fillRect(0, AXIS_H - 1, W, 1);
    ctx.fillStyle = '#5f6b76'; ctx.font = '10.5px system-ui, sans-serif';
    ctx.fillText(mode === 'order' ? 'time · step' : 'virtual time', 6, 10);
    ctx.fillText(N + ' events', 6, 22);
    if (!N) return;
    var st = niceStep(v1 - v0, plotW);
    if (mode === 'order') st = Math.max(1, Math.round(st));
    ctx.save(); ctx.beginPath(); ctx.rect(LABEL_W, 0, plotW, AXIS_H); ctx.clip();
    for (var x = Math.ceil(v0 / st) * st; x <= v1; x += st) {
      var px = toPx(x), i = eventAtX(x);
      ctx.fillStyle = '#c3ccd5'; ctx.fillRect(px, AXIS_H - 7, 1, 7);
      ctx.fillStyle = '#1d232a';
      ctx.fillText(fmtTime(mode === 'order' ? time[i] : x), px + 3, 10);
      ctx.fillStyle = '#8a96a3';
      ctx.fillText((mode === 'order' ? 'step ' : '≈ step ') + step[i], px + 3, 22);
    }
    ctx.restore();
  }

  // The overview: every event's density over the whole run, the faults,
  // the preemptions and the violation marks, and the view's window.
  var density = null, densityMode = '';
  function drawOverview() {
    var ow = ov.width / dpr, oh = 44;
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    octx.clearRect(0, 0, ow, oh);
    var full = dmax(), sx = function (x) { return x / full * ow; };
    if (!density || densityMode !== mode) {
      density = new Float32Array(Math.max(1, Math.ceil(ow)));
      for (var i = 0; i < N; i++) density[Math.min(density.length - 1, Math.floor(sx(evX(i))))]++;
      densityMode = mode;
    }
    var maxD = 1;
    for (var c = 0; c < density.length; c++) maxD = Math.max(maxD, density[c]);
    octx.fillStyle = '#b8c4cf';
    for (c = 0; c < density.length; c++) {
      if (!density[c]) continue;
      var h = 4 + 24 * Math.log(1 + density[c]) / Math.log(1 + maxD);
      octx.fillRect(c, 32 - h, 1, h);
    }
    bands.forEach(function (b) {
      octx.fillStyle = BAND_LINE[b.kind] || '#ad1457';
      var a = sx(edgeX(b.from)), e = sx(edgeX(b.to));
      octx.fillRect(a, 34, Math.max(2, e - a), 6);
    });
    octx.fillStyle = '#d50000';
    pre.at.forEach(function (at) { octx.fillRect(sx(evX(at)), 0, 1, 4); });
    octx.fillStyle = '#c62828';
    marks.forEach(function (m) { if (m.event >= 0) octx.fillRect(sx(evX(m.event)) - 1, 0, 2, 32); });
    octx.strokeStyle = '#1f5fa8'; octx.lineWidth = 1.5;
    var wa = sx(v0), wb = sx(v1);
    octx.fillStyle = 'rgba(31,95,168,0.08)'; octx.fillRect(wa, 0, Math.max(2, wb - wa), oh);
    octx.strokeRect(wa + 0.5, 0.5, Math.max(2, wb - wa) - 1, oh - 1);
  }

  var pending = false;
  function redraw() { if (!pending) { pending = true; requestAnimationFrame(draw); } }

  // ---- moving the view -----------------------------------------------------
  function setView(a, b) {
    var full = dmax(), span = Math.min(full, Math.max(b - a, mode === 'order' ? 8 : 1));
    a = Math.max(0, Math.min(a, full - span));
    v0 = a; v1 = a + span;
    redraw();
  }
  function zoom(f, atPx) {
    var c = atPx === undefined ? (v0 + v1) / 2 : fromPx(atPx);
    setView(c - (c - v0) * f, c + (v1 - c) * f);
  }
  function pan(dpx) { var d = dpx * (v1 - v0) / plotW; setView(v0 + d, v1 + d); }
  function centerOn(i) {
    var x = evX(i);
    if (x < v0 || x > v1) { var span = v1 - v0; setView(x - span / 2, x + span / 2); }
  }
  // scrollToLane brings lane l into the timeline's view and, unless quiet,
  // the timeline into the window's.
  function scrollToLane(l, quiet) {
    var r = laneRow[l];
    if (r < 0) return;
    var row = rows[r], view = H - AXIS_H;
    if (row.top < box.scrollTop || row.top + row.h > box.scrollTop + view) box.scrollTop = Math.max(0, row.top - view / 3);
    if (!quiet) box.scrollIntoView({ block: 'nearest' });
  }

  box.addEventListener('scroll', redraw);
  window.addEventListener('resize', function () { size(); redraw(); });
  box.addEventListener('wheel', function (e) {
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      zoom(Math.exp(e.deltaY * 0.0015), e.offsetX);
    } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      e.preventDefault();
      pan(e.deltaX || e.deltaY);
    }
  }, { passive: false });

  var drag = null;
  canvas.addEventListener('mousedown', function (e) {
    drag = { x: e.clientX, y: e.clientY, v0: v0, v1: v1, top: box.scrollTop, moved: false };
  });
  window.addEventListener('mousemove', function (e) {
    if (drag) {
      var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        var d = -dx * (drag.v1 - drag.v0) / plotW;
        setView(drag.v0 + d, drag.v1 + d);
        box.scrollTop = drag.top - dy;
        tip.hidden = true;
      }
      return;
    }
    if (e.target === canvas) hover(e); else tip.hidden = true;
  });
  window.addEventListener('mouseup', function (e) {
    if (drag && !drag.moved && e.target === canvas) pick(e);
    drag = null;
  });
  box.addEventListener('keydown', function (e) {
    var k = e.key;
    if (k === '+' || k === '=') zoom(0.7);
    else if (k === '-' || k === '_') zoom(1 / 0.7);
    else if (k === '0') setView(0, dmax());
    else if (k === 'ArrowLeft') pan(-plotW / 8);
    else if (k === 'ArrowRight') pan(plotW / 8);
    else if ((k === 'n' || k === 'p') && selected >= 0) stepInLane(k === 'n' ? 1 : -1);
    else return;
    e.preventDefault();
  });
  var ovDrag = false;
  function ovMove(e) {
    var rect = ov.getBoundingClientRect(), x = (e.clientX - rect.left) / rect.width * dmax(), span = v1 - v0;
    setView(x - span / 2, x + span / 2);
  }
  ov.addEventListener('mousedown', function (e) { ovDrag = true; ovMove(e); });
  window.addEventListener('mousemove', function (e) { if (ovDrag) ovMove(e); });
  window.addEventListener('mouseup', function () { ovDrag = false; });

  // hit finds the event under a point of the canvas, or -1.
  function hit(e) {
    var rect = canvas.getBoundingClientRect(), px = e.clientX - rect.left, py = e.clientY - rect.top;
    if (px < LABEL_W || py < AXIS_H) return { ev: -1, px: px, py: py, row: -1 };
    var r = rowAt(py - AXIS_H + box.scrollTop);
    if (r < 0 || rows[r].type === 'group') return { ev: -1, px: px, py: py, row: r };
    var l = rows[r].lane, s = evBy.start[l], en = evBy.start[l + 1], idx = evBy.idx;
    var x = fromPx(px), tol = 6 * (v1 - v0) / plotW;
    var k = first(idx, s, en, evX, x - tol), best = -1, bestD = 1e18;
    for (; k < en; k++) {
      var i = idx[k], d = Math.abs(evX(i) - x);
      if (evX(i) > x + tol) break;
      if (!shown[kindOf[i]]) continue;
      if (d < bestD || (d === bestD && kindPrio[kindOf[i]] > kindPrio[kindOf[best]])) { best = i; bestD = d; }
    }
    return { ev: best, px: px, py: py, row: r };
  }
  function bandAt(h) {
    if (h.row < 0) return -1;
    var x = fromPx(h.px), row = rows[h.row];
    for (var b = bands.length - 1; b >= 0; b--) {
      var band = bands[b];
      if (x < edgeX(band.from) - 3 * (v1 - v0) / plotW || x > edgeX(band.to)) continue;
      if (band.all || (row.type === 'lane' && band.lanes.indexOf(row.lane) >= 0) || (row.type === 'group' && band.nodes.indexOf(row.node) >= 0)) return b;
    }
    return -1;
  }
  function hover(e) {
    var h = hit(e);
    if (h.ev < 0) {
      var b = bandAt(h);
      if (b < 0) { tip.hidden = true; return; }
      tip.textContent = bands[b].label + (bands[b].error ? ': ' + bands[b].error : '') + '\n' + fmtTime(time[Math.min(bands[b].from, N - 1)]) + ' → ' + fmtTime(time[Math.min(bands[b].to, N - 1)]);
    } else {
      tip.textContent = summary(h.ev);
    }
    tip.hidden = false;
    var lr = tip.parentNode.getBoundingClientRect();
    tip.style.left = Math.min(e.clientX - lr.left + 14, lr.width - tip.offsetWidth - 4) + 'px';
    tip.style.top = (e.clientY - lr.top + 16) + 'px';
  }
  function pick(e) {
    var h = hit(e);
    if (h.ev >= 0) { select(h.ev); return; }
    var b = bandAt(h);
    if (b >= 0) showBand(b);
  }

  // ---- the side panel ------------------------------------------------------
  function laneName(l) {
    if (l < 0 || l >= L) return 'the clock';
    var ln = lanes[l];
    return 'g' + ln.g + (ln.node ? ' on node ' + ln.node : '');
  }
  function summary(i) {
    var s = '#' + i + '  step ' + step[i] + '  ' + fmtTime(time[i]) + '  ' + laneName(laneOf[i]) + '\n' + kinds[kindOf[i]];
    if (detailOf[i] >= 0) s += ': ' + strings[detailOf[i]];
    if (siteOf[i] >= 0) s += '\n@ ' + sites[siteOf[i]].label;
    if (preemptedAt[i] !== undefined) s += '\npreempts ' + laneName(preemptedAt[i]);
    if (markedEvent[i]) s += '\n' + markedEvent[i].label;
    return s;
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function row2(t, name, value) {
    var tr = el('tr');
    tr.appendChild(el('td', {}, name));
    var td = el('td');
    if (value instanceof Node) td.appendChild(value); else td.textContent = value;
    tr.appendChild(td);
    t.appendChild(tr);
  }
  function siteLink(si) { return el('a', { href: '#', 'class': 'site', 'data-site': si }, sites[si].label); }
  function laneLink(l) { return el('a', { href: '#', 'class': 'lane', 'data-lane': l }, laneName(l)); }
  function select(i) {
    selected = i; selectedBand = -1;
    centerOn(i);
    scrollToLane(laneOf[i] < 0 ? CLOCK : laneOf[i]);
    redraw();
    panel.textContent = '';
    var k = kinds[kindOf[i]], l = laneOf[i];
    panel.appendChild(el('h3', {}, k + ' — event #' + i));
    var t = el('table');
    row2(t, 'step', String(step[i]));
    row2(t, 'virtual time', fmtTime(time[i]));
    row2(t, 'goroutine', l >= 0 ? laneLink(l) : 'the clock');
    if (detailOf[i] >= 0) row2(t, 'detail', strings[detailOf[i]]);
    if (siteOf[i] >= 0) row2(t, 'site', siteLink(siteOf[i]));
    if (preemptedAt[i] !== undefined) {
      var p = el('span'); p.appendChild(document.createTextNode('switched away from '));
      p.appendChild(laneLink(preemptedAt[i])); p.appendChild(document.createTextNode(', which could have gone on'));
      row2(t, 'preemption', p);
    }
    if (markedEvent[i]) row2(t, 'violation', markedEvent[i].label);
    marks.forEach(function (m) { // what the violations say of this goroutine
      if (m.lane === l && m !== markedEvent[i]) row2(t, 'violation', m.label);
    });
    if (l >= 0) {
      var ln = lanes[l];
      if (ln.created) row2(t, 'started at', ln.created);
      row2(t, 'at the end', ln.end);
    }
    panel.appendChild(t);
    var nav = el('div', { 'class': 'nav' });
    [['◀ lane', function () { stepInLane(-1); }], ['lane ▶', function () { stepInLane(1); }],
      ['◀ run', function () { if (selected > 0) select(selected - 1); }], ['run ▶', function () { if (selected < N - 1) select(selected + 1); }]]
      .forEach(function (b) { var bt = el('button', { type: 'button' }, b[0]); bt.addEventListener('click', b[1]); nav.appendChild(bt); });
    panel.appendChild(nav);
    if (siteOf[i] >= 0) panel.appendChild(source(siteOf[i]));
  }
  function stepInLane(d) {
    var l = laneOf[selected] < 0 ? CLOCK : laneOf[selected], s = evBy.start[l], e = evBy.start[l + 1];
    var k = first(evBy.idx, s, e, function (j) { return j; }, selected) + d;
    if (k >= s && k < e) select(evBy.idx[k]);
  }
  function source(si) {
    var st = sites[si], div = el('div', { 'class': 'source' });
    if (st.file < 0) {
      div.appendChild(el('div', { 'class': 'path' }, st.label + ': the source was not available when the page was written'));
      return div;
    }
    var f = files[st.file];
    div.appendChild(el('div', { 'class': 'path' }, f.path + ':' + st.line));
    var pre = el('pre');
    var ctxLines = 6;
    f.chunks.forEach(function (c) {
      var a = c.start, b = c.start + c.lines.length - 1;
      if (st.line < a - ctxLines || st.line > b + ctxLines) return;
      for (var n = Math.max(a, st.line - ctxLines); n <= Math.min(b, st.line + ctxLines); n++) {
        var line = el('span', { 'class': 'ln' + (n === st.line ? ' hit' : '') });
        line.appendChild(el('span', {}, String(n)));
        line.appendChild(document.createTextNode(c.lines[n - a]));
        pre.appendChild(line);
      }
    });
    div.appendChild(pre);
    return div;
  }
  function showSite(si) {
    panel.textContent = '';
    panel.appendChild(el('h3', {}, sites[si].label));
    panel.appendChild(source(si));
  }
  function showBand(b) {
    var band = bands[b];
    selectedBand = b;
    panel.textContent = '';
    panel.appendChild(el('h3', {}, 'fault: ' + band.label));
    var t = el('table');
    row2(t, 'from', fmtTime(time[Math.min(band.from, N - 1)]) + ' (event #' + band.from + ')');
    row2(t, 'until', band.to >= N ? 'the end of the run' : fmtTime(time[band.to]) + ' (event #' + band.to + ')');
    row2(t, 'nodes', band.all ? 'every node' : band.nodes.join(', '));
    if (band.error) row2(t, 'error', band.error);
    panel.appendChild(t);
    var bt = el('button', { type: 'button' }, 'go to its note');
    bt.addEventListener('click', function () { select(Math.min(band.from, N - 1)); });
    panel.appendChild(bt);
  }
  function gotoLane(l, ev) {
    if (ev !== undefined && ev >= 0) { select(ev); return; }
    var s = evBy.start[l], e = evBy.start[l + 1];
    scrollToLane(l);
    if (e > s) select(evBy.idx[e - 1]);
  }

  document.addEventListener('click', function (e) {
    var a = e.target.closest ? e.target.closest('a[data-site],a[data-lane],a[data-g]') : null;
    if (!a) return;
    e.preventDefault();
    if (a.hasAttribute('data-site')) showSite(+a.getAttribute('data-site'));
    else if (a.hasAttribute('data-lane')) gotoLane(+a.getAttribute('data-lane'), a.hasAttribute('data-event') ? +a.getAttribute('data-event') : undefined);
    else {
      var g = +a.getAttribute('data-g');
      for (var l = 0; l < L; l++) if (lanes[l].g === g) { gotoLane(l); break; }
    }
  });
  document.getElementById('goto').addEventListener('change', function (e) {
    var g = parseInt(String(e.target.value).replace(/^g/, ''), 10);
    for (var l = 0; l < L; l++) if (lanes[l].g === g) { gotoLane(l); return; }
  });
  document.querySelectorAll('.toolbar button[data-act]').forEach(function (b) {
    b.addEventListener('click', function () {
      var act = b.getAttribute('data-act');
      if (act === 'zoom-in') zoom(0.6); else if (act === 'zoom-out') zoom(1 / 0.6); else setView(0, dmax());
    });
  });
  var axis = document.getElementById('axis');
  if (maxTime === 0) axis.disabled = true;
  axis.addEventListener('change', function () {
    var c = selected >= 0 ? selected : eventAtX((v0 + v1) / 2);
    mode = axis.value;
    setView(0, dmax());
    if (selected >= 0) centerOn(c);
  });
  var copy = document.getElementById('copy-replay');
  if (copy) copy.addEventListener('click', function () {
    var text = document.getElementById('replay').textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
  });

  // The legend, with a switch per kind of mark.
  (function () {
    var legend = document.getElementById('legend'), counts = new Int32Array(kinds.length);
    for (var i = 0; i < N; i++) counts[kindOf[i]]++;
    function swatch(draw) {
      var c = el('canvas', { width: 14 * dpr, height: 14 * dpr });
      c.style.width = '14px'; c.style.height = '14px';
      var x = c.getContext('2d'); x.setTransform(dpr, 0, 0, dpr, 0, 0); draw(x);
      return c;
    }
    kinds.forEach(function (k, ki) {
      if (!counts[ki]) return;
      var lab = el('label', { title: counts[ki] + ' event(s)' }), box = el('input', { type: 'checkbox' });
      box.checked = true;
      box.addEventListener('change', function () { shown[ki] = box.checked; redraw(); });
      lab.appendChild(box);
      lab.appendChild(swatch(function (x) { shape(x, ki, 7, 7, 5); }));
      lab.appendChild(document.createTextNode(k + ' ' + counts[ki]));
      legend.appendChild(lab);
    });
    var extra = [['preemption', function (x) { x.fillStyle = '#d50000'; tri(x, 7, 7, 5, 'down'); }],
      ['running', function (x) { x.fillStyle = 'hsl(205,55%,78%)'; x.fillRect(0, 4, 14, 6); }],
      ['blocked', function (x) { x.fillStyle = COLORS.receive; x.fillRect(0, 6, 14, 2); }],
      ['violation', function (x) { x.strokeStyle = '#c62828'; x.lineWidth = 2; x.beginPath(); x.arc(7, 7, 5, 0, 6.2832); x.stroke(); }]];
    extra.forEach(function (e) {
      var lab = el('label');
      lab.appendChild(swatch(e[1]));
      lab.appendChild(document.createTextNode(e[0]));
      legend.appendChild(lab);
    });
  })();

  // ---- first render ----------------------------------------------------------
  size();
  for (var mi = 0; mi < marks.length; mi++) { // the first lane a violation marks
    if (!marks[mi].maybe) { scrollToLane(marks[mi].lane, true); break; }
  }
  draw();
  var rect = canvas.getBoundingClientRect();
  box.setAttribute('data-first-render-ms', performance.now().toFixed(1));
  box.setAttribute('data-width', String(Math.round(rect.width)));
  box.setAttribute('data-height', String(Math.round(rect.height)));
  box.setAttribute('data-events', String(N));
  box.setAttribute('data-lanes', String(L));
  box.setAttribute('data-marks-drawn', String(drawn));
  box.setAttribute('data-draw-ms', drawMs.toFixed(1)); // what a redraw (a scroll, a zoom) costs
})();

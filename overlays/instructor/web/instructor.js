// The class page: draws the instructor's tile snapshots; sends control and detail requests.
"use strict";
const tilesEl = document.getElementById("tiles");
const tiles = new Map();
let ws = null, detailStation = null, detailTimer = null;

function fmt(x, d = 0) { return x === null || x === undefined ? "–" : Number(x).toFixed(d); }
function meter(el, value, band, lo, hi) {
  const pct = v => Math.max(0, Math.min(100, 100 * (v - lo) / (hi - lo)));
  el.querySelector(".band").style.cssText = `left:${pct(band[0])}%;width:${pct(band[1]) - pct(band[0])}%`;
  const m = el.querySelector(".mark");
  if (value === null || value === undefined) { m.style.display = "none"; } else { m.style.display = ""; m.style.left = `calc(${pct(value)}% - 2px)`; }
}
function makeTile(id) {
  const el = document.createElement("div");
  el.className = "tile"; el.dataset.station = id;
  el.innerHTML = `<div class="top"><span class="station"></span><span class="status"></span></div>
    <div class="trainee"></div>
    <div class="row"><span>depth <span class="big depth"></span> mm</span><span>rate <span class="big rate"></span>/min</span></div>
    <div class="meter depth-m"><div class="band"></div><div class="mark"></div></div>
    <div class="meter rate-m"><div class="band"></div><div class="mark"></div></div>
    <div class="row"><span>compressions <b class="compressions"></b></span><span>CCF <b class="ccf"></b></span></div>
    <div class="prompt"></div><div class="alerts"></div><div class="health"></div>`;
  el.querySelector(".station").textContent = id;
  el.addEventListener("click", () => openDetail(id));
  tilesEl.appendChild(el);
  return el;
}
function drawTiles(list) {
  for (const t of list) {
    const el = tiles.get(t.station) || makeTile(t.station);
    tiles.set(t.station, el);
    el.className = "tile " + t.status; el.dataset.status = t.status;
    el.querySelector(".status").textContent = t.status === "lost" ? "lost" : (t.running ? "session" : t.status);
    el.querySelector(".trainee").textContent = t.trainee ? "Trainee: " + t.trainee : "no trainee set";
    const d = el.querySelector(".depth"); d.textContent = fmt(t.depth_mm);
    d.className = "big depth " + (t.depth_ok === null ? "" : t.depth_ok ? "good" : "bad");
    const r = el.querySelector(".rate"); r.textContent = fmt(t.rate_cpm);
    r.className = "big rate " + (t.rate_ok === null ? "" : t.rate_ok ? "good" : "bad");
    meter(el.querySelector(".depth-m"), t.depth_mm, t.band_mm, 0, t.band_mm[1] * 4 / 3);
    meter(el.querySelector(".rate-m"), t.rate_cpm, t.band_cpm, 60, 160);
    el.querySelector(".compressions").textContent = t.compressions;
    el.querySelector(".ccf").textContent = t.ccf === null ? "–" : fmt(100 * t.ccf) + " %";
    el.querySelector(".prompt").textContent = t.prompt || "";
    el.querySelector(".alerts").textContent = t.status === "lost" ? `no message for ${fmt(t.silent_s, 1)} s` : t.alerts.join(" · ");
    el.querySelector(".health").textContent = `${t.source || "?"} · ${fmt(t.fps)} fps · ${fmt(t.latency_ms)} ms · ${t.profile || ""}`;
  }
}
function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); }
function openDetail(id) {
  detailStation = id;
  document.getElementById("detail").hidden = false;
  document.getElementById("d-title").textContent = id;
  const t = tiles.get(id); document.getElementById("d-trainee").value = t ? (t.querySelector(".trainee").textContent.replace(/^Trainee: /, "").replace("no trainee set", "")) : "";
  send({cmd: "detail", station: id});
  clearInterval(detailTimer); detailTimer = setInterval(() => send({cmd: "detail", station: id}), 500);
}
function drawDetail(d) {
  if (!d.tile || d.tile.station !== detailStation) return;
  const c = document.getElementById("d-chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const comps = d.compressions || [], n = comps.length, W = c.width, H = c.height;
  const [b0, b1] = d.tile.band_mm, dmax = b1 * 4 / 3;
  g.fillStyle = "rgba(60,207,122,.18)"; g.fillRect(0, H / 2 * (1 - b1 / dmax), W, H / 2 * (b1 - b0) / dmax);
  g.fillStyle = "#8b98a8"; g.font = "12px sans-serif"; g.fillText("depth (mm)", 4, 12); g.fillText("rate (/min)", 4, H / 2 + 14);
  const [r0, r1] = d.tile.band_cpm;
  g.fillStyle = "rgba(60,207,122,.18)"; g.fillRect(0, H / 2 + H / 2 * (1 - (r1 - 60) / 100), W, H / 2 * (r1 - r0) / 100);
  comps.forEach((row, i) => {
    const x = (i + 0.5) * W / Math.max(n, 1), [, , depth, rate] = row;
    if (depth !== null) { g.fillStyle = depth >= b0 && depth <= b1 ? "#7ee2a8" : "#ff8a8a"; g.fillRect(x - 1.5, H / 2 * (1 - depth / dmax), 3, 3); }
    if (rate !== null) { g.fillStyle = rate >= r0 && rate <= r1 ? "#7ee2a8" : "#ffb86b"; g.fillRect(x - 1.5, H / 2 + H / 2 * (1 - (rate - 60) / 100), 3, 3); }
  });
  const ol = document.getElementById("d-prompts"); ol.innerHTML = "";
  for (const [t, text] of (d.prompts || []).slice(-30).reverse()) { const li = document.createElement("li"); li.textContent = `${fmt(t, 1)} s  ${text}`; ol.appendChild(li); }
  document.getElementById("d-summary").textContent = d.summary ? JSON.stringify(d.summary, null, 1) : "–";
}
document.getElementById("close").onclick = () => { document.getElementById("detail").hidden = true; detailStation = null; clearInterval(detailTimer); };
document.getElementById("d-start").onclick = () => send({cmd: "start", station: detailStation, trainee: document.getElementById("d-trainee").value});
document.getElementById("d-stop").onclick = () => send({cmd: "stop", station: detailStation});
document.getElementById("d-setprof").onclick = () => send({cmd: "set-profile", station: detailStation, profile: document.getElementById("d-profile").value});
document.getElementById("d-page").onclick = () => send({cmd: "trainee-page", station: detailStation, trainee: document.getElementById("d-trainee").value});
document.getElementById("d-trainee").onchange = e => send({cmd: "trainee", station: detailStation, trainee: e.target.value});

function connect() {
  const conn = document.getElementById("conn");
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => { conn.textContent = "connected"; conn.className = "conn ok"; };
  ws.onclose = () => { conn.textContent = "reconnecting…"; conn.className = "conn"; setTimeout(connect, 1000); };
  ws.onmessage = ev => {
    let m; try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.topic === "instructor.class") {
      drawTiles(m.tiles); document.getElementById("recorded").textContent = `${m.recorded} session(s) recorded`;
      const want = decodeURIComponent(location.hash.slice(1));  // #station-id opens its detail view (a link per station)
      if (want && detailStation === null && tiles.has(want)) openDetail(want);
    }
    else if (m.topic === "instructor.detail") drawDetail(m);
    else if (m.topic === "instructor.trainee_page") {  // the trainee's page from the class record, in a new tab
      const url = URL.createObjectURL(new Blob([m.html], {type: "text/html"}));
      if (!window.open(url, "_blank")) location.href = url;
    }
    else if (m.topic === "instructor.reply") document.getElementById("d-reply").textContent = m.ok ? `${m.cmd}: ok` : `${m.cmd || ""} ${m.error || "failed"}`;
  };
}
connect();

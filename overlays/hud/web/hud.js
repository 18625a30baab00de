// cpr-coach HUD: reads the station's protocol over the bridge's WebSocket and draws
// the depth gauge, rate dial, metronome, hand-placement ring and prompt on black.
// Flat HUD everywhere; WebXR immersive-ar (world-locked panels) where the browser has it.
"use strict";
(function () {
  const errors = [];  // uncaught errors, for diagnostics (and the tests)
  window.addEventListener("error", (e) => errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", (e) => errors.push(String(e.reason)));
  const COLORS = { ok: "#5ad25a", warn: "#ffaf00", alert: "#ff5050", neutral: "#c8c8c8", text: "#ffffff", marker: "#50e6ff" };
  const model = { prims: {}, state: null, stateAt: 0, prompt: null, session: null, heartbeat: null,
                  connected: false, lastMsgAt: 0, messages: 0 };

  // ------------------------------------------------------------------ messages
  function onMessage(text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (!m || typeof m.topic !== "string") return;
    model.messages++;
    const now = performance.now() / 1000;
    if (m.topic !== "hud.status") model.lastMsgAt = now;
    switch (m.topic) {
      case "cpr.state": model.state = m; model.stateAt = now; break;
      case "cpr.overlay": model.prims = {}; for (const p of m.primitives || []) model.prims[p.id] = p; break;
      case "cpr.feedback": model.prompt = m.prompt; break;
      case "cpr.session":
        model.session = m; model.prompt = null;
        if (m.event === "stop") {  // the session is over: no live timer or metronome stays up
          delete model.prims.status; delete model.prims.metronome;
        }
        break;
      case "cpr.heartbeat": model.heartbeat = m; break;
      case "hud.status":
        model.connected = !!m.connected;
        if (m.hint) setConn(m.hint, true);  // why nothing arrives, in the bridge's words
        break;
    }
    updateReadout();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const token = new URLSearchParams(location.search).get("token");  // the HUD's access token, off localhost
    const ws = new WebSocket(`${scheme}://${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : ""));
    let opened = false;
    ws.onopen = () => { opened = true; setConn("bridge connected", false); };
    ws.onmessage = (ev) => onMessage(ev.data);
    ws.onclose = () => { setConn(opened ? "bridge lost, reconnecting…" : "connecting…", true); setTimeout(connect, 1000); };
    ws.onerror = () => ws.close();
  }

  function setConn(text, lost) {
    const el = document.getElementById("conn");
    el.textContent = text; el.classList.toggle("lost", !!lost);
  }

  // ------------------------------------------------------------------ values
  const fmt = (v, d = 0) => (v === null || v === undefined || !isFinite(v)) ? "--" : Number(v).toFixed(d);
  function liveDepth() {  // 60 Hz state moves the marker; the overlay's null value_mm (hands off) hides it
    const g = model.prims.depth;
    if (g && (g.value_mm === null || g.value_mm === undefined)) return null;
    const s = model.state; if (s && s.displacement_mm !== null && s.displacement_mm !== undefined) return s.displacement_mm;
    return g ? g.value_mm : null;
  }
  function lastDepth() {
    const g = model.prims.depth; if (g && g.last_mm !== null && g.last_mm !== undefined) return g.last_mm;
    return model.state ? model.state.last_depth_mm : null;
  }
  function rate() {
    const d = model.prims.rate; if (d && d.value_cpm !== null && d.value_cpm !== undefined) return d.value_cpm;
    return model.state ? model.state.rate_cpm : null;
  }
  function stationNow() {  // the station's clock, advanced locally between messages (metronome)
    if (!model.state) return null;
    return model.state.t_s + (performance.now() / 1000 - model.stateAt);
  }
  function signal() { return performance.now() / 1000 - model.lastMsgAt < 3.0 && model.lastMsgAt > 0; }

  function updateReadout() {
    const set = (id, v) => { const el = document.getElementById(id); if (el.textContent !== v) el.textContent = v; };
    set("depth-value", fmt(lastDepth()));
    set("live-depth", fmt(liveDepth()));
    set("rate-value", fmt(rate()));
    set("prompt", model.prompt ? model.prompt.text : "");
    const c = model.prims.count; set("count", c ? c.text : "");
    set("session-state", model.session ? model.session.event : "no session");
  }

  // ------------------------------------------------------------------ drawing (shared by flat and XR)
  function font(px, bold = true) { return `${bold ? "700 " : ""}${Math.round(px)}px system-ui, "DejaVu Sans", Arial, sans-serif`; }
  function text(ctx, s, x, y, px, color, align = "center") {
    ctx.font = font(px); ctx.textAlign = align; ctx.textBaseline = "middle";
    ctx.lineWidth = Math.max(2, px / 8); ctx.strokeStyle = "#000"; ctx.strokeText(s, x, y);
    ctx.fillStyle = color; ctx.fillText(s, x, y);
  }
  const okColor = (ok) => ok === null || ok === undefined ? COLORS.neutral : (ok ? COLORS.ok : COLORS.warn);

  // Vertical gauge, depth growing downward (like pushing the chest). Returns the bar geometry.
  function drawGauge(ctx, g, live, x, y, w, h, numPx) {
    const [lo, hi] = g ? g.range_mm : [0, 80];
    const band = g ? g.band_mm : null;  // the station's profile decides the band: none until its overlay arrives
    const yOf = (mm) => y + (Math.min(Math.max(mm, lo), hi) - lo) / (hi - lo) * h;
    const bx = x + w * 0.25, bw = w * 0.5;
    ctx.lineWidth = Math.max(2, h / 150); ctx.strokeStyle = COLORS.neutral; ctx.strokeRect(bx, y, bw, h);
    if (band) {
      const [b0, b1] = band;
      ctx.fillStyle = COLORS.ok; ctx.fillRect(bx, yOf(b0), bw, yOf(b1) - yOf(b0));
      text(ctx, fmt(b0), bx - w * 0.08, yOf(b0), numPx * 0.38, COLORS.text, "right");
      text(ctx, fmt(b1), bx - w * 0.08, yOf(b1), numPx * 0.38, COLORS.text, "right");
    }
    if (live !== null && live !== undefined && isFinite(live)) {
      const t = Math.max(4, h / 60);
      ctx.fillStyle = COLORS.marker; ctx.fillRect(bx - w * 0.18, yOf(Math.max(0, live)) - t / 2, bw + w * 0.36, t);
    }
    const last = g ? g.last_mm : null;
    if (last !== null && last !== undefined) {
      const yl = yOf(last), s = Math.max(8, h / 25);
      ctx.fillStyle = COLORS.text; ctx.beginPath();
      ctx.moveTo(bx + bw + 3, yl); ctx.lineTo(bx + bw + 3 + s, yl - s / 2); ctx.lineTo(bx + bw + 3 + s, yl + s / 2); ctx.fill();
    }
    text(ctx, fmt(last), x + w / 2, y + h + numPx * 0.75, numPx, okColor(g ? g.ok : null));
    text(ctx, "DEPTH mm", x + w / 2, y - numPx * 0.45, numPx * 0.34, COLORS.text);
    return { x: bx, y, w: bw, h, lo, hi };
  }

  function drawDial(ctx, d, cx, cy, r, numPx) {
    const [lo, hi] = d ? d.range_cpm : [70, 150];
    const a0 = (150 * Math.PI) / 180, sweep = (240 * Math.PI) / 180;
    const ang = (v) => a0 + sweep * (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo);
    const th = Math.max(6, r / 7);
    ctx.lineWidth = th; ctx.lineCap = "butt";
    ctx.strokeStyle = COLORS.neutral; ctx.beginPath(); ctx.arc(cx, cy, r, a0, a0 + sweep); ctx.stroke();
    if (d) {
      ctx.strokeStyle = COLORS.ok; ctx.beginPath(); ctx.arc(cx, cy, r, ang(d.band_cpm[0]), ang(d.band_cpm[1])); ctx.stroke();
      const ta = ang(d.target_cpm); ctx.lineWidth = Math.max(2, th / 3); ctx.strokeStyle = COLORS.text; ctx.beginPath();
      ctx.moveTo(cx + (r - th) * Math.cos(ta), cy + (r - th) * Math.sin(ta)); ctx.lineTo(cx + (r + th) * Math.cos(ta), cy + (r + th) * Math.sin(ta)); ctx.stroke();
    }
    const v = rate();
    if (v !== null && v !== undefined && isFinite(v)) {
      const a = ang(v); ctx.strokeStyle = COLORS.marker; ctx.lineWidth = Math.max(3, th / 2); ctx.beginPath();
      ctx.moveTo(cx, cy); ctx.lineTo(cx + (r - th) * Math.cos(a), cy + (r - th) * Math.sin(a)); ctx.stroke();
    }
    text(ctx, fmt(v), cx, cy + r * 0.62, numPx, okColor(d ? d.ok : null));
    text(ctx, "RATE /min", cx, cy - r * 1.35, numPx * 0.34, COLORS.text);
  }

  function drawMetronome(ctx, m, cx, cy, r) {
    ctx.lineWidth = Math.max(2, r / 10);
    if (!m || !m.active) { ctx.strokeStyle = COLORS.neutral; ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI); ctx.stroke(); return; }
    let phase = m.phase || 0;
    const now = stationNow();
    if (now !== null && m.period_s && m.next_beat_t_s !== null) phase = (((now - (m.next_beat_t_s - m.period_s)) / m.period_s) % 1 + 1) % 1;
    const glow = Math.max(0, 1 - phase / 0.35);
    ctx.fillStyle = `rgba(90, 210, 90, ${0.35 + 0.65 * glow})`;
    ctx.beginPath(); ctx.arc(cx, cy, r * (0.75 + 0.35 * glow), 0, 2 * Math.PI); ctx.fill();
    ctx.strokeStyle = COLORS.text; ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI); ctx.stroke();
  }

  // The target ring (tolerance) with the hands' offset along the body axis (+ toward the head = up).
  function drawRing(ctx, p, cx, cy, r) {
    if (!p) return;
    ctx.lineWidth = Math.max(3, r / 12); ctx.strokeStyle = okColor(p.ok);
    ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(cx - r / 3, cy); ctx.lineTo(cx + r / 3, cy); ctx.moveTo(cx, cy - r / 3); ctx.lineTo(cx, cy + r / 3); ctx.stroke();
    if (p.offset_mm !== null && p.offset_mm !== undefined) {
      const dy = -Math.max(-2.5, Math.min(2.5, p.offset_mm / p.tolerance_mm)) * r;
      ctx.fillStyle = COLORS.marker; ctx.beginPath(); ctx.arc(cx, cy + dy, Math.max(5, r / 5), 0, 2 * Math.PI); ctx.fill();
    }
  }

  const styleColor = (s) => ({ ok: COLORS.ok, warn: COLORS.warn, alert: COLORS.alert }[s] || COLORS.neutral);
  function promptColor() {
    if (!model.prompt) return COLORS.text;
    return model.prompt.priority <= 1 ? COLORS.alert : COLORS.warn;
  }

  // ------------------------------------------------------------------ metronome sound
  // Browsers start audio only after a user gesture: the button turns it on. A short click is
  // scheduled on the station's beat grid (next_beat_t_s, period_s), silent when the metronome rests.
  const sound = { ctx: null, on: false, lastBeat: null };
  function toggleSound() {
    sound.on = !sound.on;
    if (sound.on && !sound.ctx) sound.ctx = new (window.AudioContext || window.webkitAudioContext)();
    const b = document.getElementById("sound");
    b.setAttribute("aria-pressed", String(sound.on)); b.textContent = `Metronome sound: ${sound.on ? "on" : "off"}`;
  }
  function tickSound() {
    const m = model.prims.metronome, now = stationNow();
    if (!sound.on || !sound.ctx || !m || !m.active || now === null || !m.period_s || m.next_beat_t_s === null) return;
    const beat = Math.floor((now - m.next_beat_t_s) / m.period_s);
    if (beat === sound.lastBeat) return;
    sound.lastBeat = beat;
    const a = sound.ctx, o = a.createOscillator(), g = a.createGain();
    o.frequency.value = 1000; g.gain.setValueAtTime(0.4, a.currentTime); g.gain.exponentialRampToValueAtTime(0.001, a.currentTime + 0.04);
    o.connect(g); g.connect(a.destination); o.start(); o.stop(a.currentTime + 0.05);
  }
  document.getElementById("sound").onclick = toggleSound;

  // ------------------------------------------------------------------ flat HUD
  const canvas = document.getElementById("hud");
  const ctx = canvas.getContext("2d");
  let gaugeGeom = null;

  // The rescuer's arms (cpr.state posture): both arm lines, normalised into a box, with each elbow's angle.
  // An elbow the camera sees end-on says "not visible" rather than a guessed number.
  function drawPosture(ctx, p, x, y, w, h) {
    if (!p || !Array.isArray(p.arms_px) || p.arms_px.length !== 2) return;
    const pts = p.arms_px.flat();
    const xs = pts.map((q) => q[0]), ys = pts.map((q) => q[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const s = Math.min(w / Math.max(1, x1 - x0), (h * 0.8) / Math.max(1, y1 - y0));
    const map = (q) => [x + (q[0] - x0) * s + (w - (x1 - x0) * s) / 2, y + (q[1] - y0) * s];
    const col = { good: COLORS.ok, acceptable: COLORS.warn, bent: COLORS.alert }[p.elbow_class] || COLORS.neutral;
    const lr = Array.isArray(p.elbow_deg_lr) ? p.elbow_deg_lr : [null, null];
    ctx.lineWidth = Math.max(2, h / 40); ctx.strokeStyle = col; ctx.lineCap = "round";
    p.arms_px.forEach((arm, i) => {
      const q = arm.map(map);
      ctx.beginPath(); ctx.moveTo(q[0][0], q[0][1]); ctx.lineTo(q[1][0], q[1][1]); ctx.lineTo(q[2][0], q[2][1]); ctx.stroke();
      const a = lr[i];
      text(ctx, a == null ? "not visible" : `${Math.round(a)}°`, q[1][0], q[1][1] - h * 0.06, h * 0.09, col);
    });
    const label = p.elbow_deg == null ? "Elbows: not visible" : `Elbows ${Math.round(p.elbow_deg)}°`;
    text(ctx, label, x + w / 2, y + h * 0.97, h * 0.1, col);
  }

  function layout(W, H) {
    const gw = Math.max(70, 0.085 * W);
    return {
      gauge: { x: 0.04 * W, y: 0.2 * H, w: gw, h: 0.56 * H },
      dial: { cx: 0.82 * W, cy: 0.42 * H, r: 0.16 * H },
      metronome: { cx: 0.82 * W, cy: 0.8 * H, r: 0.05 * H },
      ring: { cx: 0.5 * W, cy: 0.55 * H, r: 0.12 * H },
      prompt: { x: 0.5 * W, y: 0.1 * H, px: 0.1 * H },
      status: { x: 0.5 * W, y: 0.22 * H, px: 0.05 * H },
      count: { x: 0.5 * W, y: 0.86 * H, px: 0.09 * H },
      posture: { x: 0.2 * W, y: 0.62 * H, w: 0.18 * W, h: 0.3 * H },
      numPx: 0.1 * H,
    };
  }

  function drawFlat() {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth, H = canvas.clientHeight;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, W, H);
    const L = layout(W, H), P = model.prims;
    const g = L.gauge;
    gaugeGeom = drawGauge(ctx, P.depth || null, liveDepth(), g.x, g.y, g.w, g.h, L.numPx);
    drawDial(ctx, P.rate || null, L.dial.cx, L.dial.cy, L.dial.r, L.numPx);
    drawMetronome(ctx, P.metronome || null, L.metronome.cx, L.metronome.cy, L.metronome.r);
    drawRing(ctx, P.placement || null, L.ring.cx, L.ring.cy, L.ring.r);
    if (model.state && model.state.posture) drawPosture(ctx, model.state.posture, L.posture.x, L.posture.y, L.posture.w, L.posture.h);
    if (model.prompt) text(ctx, model.prompt.text, L.prompt.x, L.prompt.y, L.prompt.px, promptColor());
    if (P.status && P.status.text) text(ctx, P.status.text, L.status.x, L.status.y, L.status.px, styleColor(P.status.style));
    if (P.count && P.count.text) text(ctx, P.count.text, L.count.x, L.count.y, L.count.px, COLORS.text);
    const ses = model.session;
    if (ses && ses.event === "stop" && ses.summary) {
      const s = ses.summary;
      text(ctx, "Session ended", W / 2, 0.3 * H, 0.07 * H, COLORS.text);
      text(ctx, `${s.compressions} compressions · depth ${fmt(s.mean_depth_mm)} mm · rate ${fmt(s.mean_rate_cpm)}/min`,
           W / 2, 0.4 * H, 0.045 * H, COLORS.neutral);
    }
    if (!signal()) text(ctx, "NO SIGNAL", W / 2, H / 2, 0.09 * H, COLORS.alert);
    tickSound();
    if (!xr.session) requestAnimationFrame(drawFlat);
  }

  // ------------------------------------------------------------------ WebXR (immersive-ar)
  // The manikin frame (x head, z out of the chest, y = z × x; metres) is anchored when the session starts:
  // origin 0.45 m ahead of and 0.45 m below the viewer's head, panels facing the viewer.
  // 'select' (trigger / pinch) re-anchors in front of the viewer.
  const xr = { supported: false, session: null, gl: null, ref: null, anchor: null, quads: {} };
  const xrMath = {
    anchorFromViewer(m, ahead = 0.45, below = 0.45) {
      let f = [-m[8], 0, -m[10]]; const n = Math.hypot(f[0], f[2]) || 1; f = [f[0] / n, 0, f[2] / n];
      const r = [-f[2], 0, f[0]];
      return { o: [m[12] + f[0] * ahead, m[13] - below, m[14] + f[2] * ahead], r, f, up: [0, 1, 0] };
    },
    // manikin-frame point -> reference space; panels' 'right' maps to the viewer's right
    toRef(p, anchor, panelRight) {
      const th = Math.atan2(panelRight[1], panelRight[0]), c = Math.cos(-th), s = Math.sin(-th);
      const qx = c * p[0] - s * p[1], qy = s * p[0] + c * p[1], qz = p[2];
      const a = anchor;
      return [0, 1, 2].map((i) => a.o[i] + qx * a.r[i] + qy * a.f[i] + qz * a.up[i]);
    },
    quadCorners(prim, anchor, panelRight, aspect = 1) {
      const w = prim.world, c = w.center_m, R = w.right, U = w.up;
      const hh = w.size_m[1] / 2, hw = (w.size_m[0] || w.size_m[1] * aspect) / 2;
      const pt = (sx, sy) => xrMath.toRef([0, 1, 2].map((i) => c[i] + sx * hw * R[i] + sy * hh * U[i]), anchor, panelRight);
      return [pt(-1, -1), pt(1, -1), pt(1, 1), pt(-1, 1)];  // bl, br, tr, tl
    },
  };

  function primTexture(prim) {
    let q = xr.quads[prim.id];
    if (!q) {
      const cv = document.createElement("canvas"); cv.width = 512; cv.height = 512;
      q = xr.quads[prim.id] = { canvas: cv, ctx: cv.getContext("2d"), tex: xr.gl.createTexture(), aspect: 1 };
    }
    const c = q.ctx, cv = q.canvas;
    if (prim.kind === "text") {  // size the texture to the text
      c.font = font(96); const w = Math.max(64, Math.ceil(c.measureText(prim.text || " ").width + 48));
      if (cv.width !== w || cv.height !== 128) { cv.width = w; cv.height = 128; }
      q.aspect = cv.width / cv.height;
    } else if (prim.kind === "depth_gauge") {
      if (cv.width !== 256 || cv.height !== 768) { cv.width = 256; cv.height = 768; }
      q.aspect = 256 / 768;
    } else if (cv.width !== 512 || cv.height !== 512) { cv.width = 512; cv.height = 512; q.aspect = 1; }
    c.clearRect(0, 0, cv.width, cv.height);
    const W = cv.width, H = cv.height;
    if (prim.kind === "depth_gauge") drawGauge(c, prim, liveDepth(), W * 0.2, H * 0.1, W * 0.6, H * 0.68, H * 0.1);
    else if (prim.kind === "rate_dial") drawDial(c, prim, W / 2, H * 0.56, W * 0.33, H * 0.16);
    else if (prim.kind === "metronome") drawMetronome(c, prim, W / 2, H / 2, W * 0.4);
    else if (prim.kind === "placement_ring") drawRing(c, prim, W / 2, H / 2, W * 0.4);
    else if (prim.kind === "text") {
      const s = prim.role === "prompt" && model.prompt ? model.prompt.text : prim.text;
      if (s) text(c, s, W / 2, H / 2, 96, prim.role === "prompt" ? promptColor() : prim.role === "status" ? styleColor(prim.style) : COLORS.text);
    }
    const gl = xr.gl;
    gl.bindTexture(gl.TEXTURE_2D, q.tex);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, true);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, cv);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return q;
  }

  function glSetup(gl) {
    const vs = `attribute vec3 pos; attribute vec2 uv; uniform mat4 proj, view; varying vec2 v;
      void main() { v = uv; gl_Position = proj * view * vec4(pos, 1.0); }`;
    const fs = `precision mediump float; varying vec2 v; uniform sampler2D tex;
      void main() { gl_FragColor = texture2D(tex, v); }`;
    const sh = (type, src) => { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s); return s; };
    const prog = gl.createProgram();
    gl.attachShader(prog, sh(gl.VERTEX_SHADER, vs)); gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, fs)); gl.linkProgram(prog);
    return { prog, pos: gl.getAttribLocation(prog, "pos"), uv: gl.getAttribLocation(prog, "uv"),
             proj: gl.getUniformLocation(prog, "proj"), view: gl.getUniformLocation(prog, "view"),
             vbuf: gl.createBuffer(), tbuf: gl.createBuffer() };
  }

  function onXRFrame(t, frame) {
    const session = frame.session; session.requestAnimationFrame(onXRFrame);
    tickSound();
    const pose = frame.getViewerPose(xr.ref); if (!pose) return;
    if (!xr.anchor) xr.anchor = xrMath.anchorFromViewer(pose.transform.matrix);
    const gl = xr.gl, p = xr.prog, layer = session.renderState.baseLayer;
    gl.bindFramebuffer(gl.FRAMEBUFFER, layer.framebuffer);
    gl.clearColor(0, 0, 0, 0); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.BLEND); gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.useProgram(p.prog);
    const prims = Object.values(model.prims);
    const gauge = model.prims.depth; const panelRight = gauge ? gauge.world.right : [1, 0, 0];
    const quads = prims.filter((pr) => pr.world && !(pr.kind === "text" && !pr.text && !(pr.role === "prompt" && model.prompt)))
      .map((pr) => { const q = primTexture(pr); return { q, corners: xrMath.quadCorners(pr, xr.anchor, panelRight, q.aspect) }; });
    gl.bindBuffer(gl.ARRAY_BUFFER, p.tbuf);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(p.uv); gl.vertexAttribPointer(p.uv, 2, gl.FLOAT, false, 0, 0);
    for (const view of pose.views) {
      const vp = layer.getViewport(view); gl.viewport(vp.x, vp.y, vp.width, vp.height);
      gl.uniformMatrix4fv(p.proj, false, view.projectionMatrix);
      gl.uniformMatrix4fv(p.view, false, view.transform.inverse.matrix);
      for (const { q, corners } of quads) {
        const [bl, br, tr, tl] = corners;
        gl.bindBuffer(gl.ARRAY_BUFFER, p.vbuf);
        gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([...bl, ...br, ...tr, ...bl, ...tr, ...tl]), gl.DYNAMIC_DRAW);
        gl.enableVertexAttribArray(p.pos); gl.vertexAttribPointer(p.pos, 3, gl.FLOAT, false, 0, 0);
        gl.bindTexture(gl.TEXTURE_2D, q.tex);
        gl.drawArrays(gl.TRIANGLES, 0, 6);
      }
    }
  }

  async function enterAR() {
    const session = await navigator.xr.requestSession("immersive-ar", {
      optionalFeatures: ["local-floor", "dom-overlay"], domOverlay: { root: document.getElementById("xr-dom") } });
    const glc = document.createElement("canvas");
    const gl = glc.getContext("webgl", { xrCompatible: true, alpha: true });
    if (gl.makeXRCompatible) await gl.makeXRCompatible();
    session.updateRenderState({ baseLayer: new XRWebGLLayer(session, gl) });
    xr.ref = await session.requestReferenceSpace("local");
    Object.assign(xr, { session, gl, prog: glSetup(gl), anchor: null, quads: {} });
    session.addEventListener("select", () => { xr.anchor = null; });
    session.addEventListener("end", () => { xr.session = null; document.getElementById("enter-ar").hidden = false; requestAnimationFrame(drawFlat); });
    document.getElementById("enter-ar").hidden = true;
    session.requestAnimationFrame(onXRFrame);
  }

  async function initXR() {
    if (!navigator.xr || !navigator.xr.isSessionSupported) return;
    try { xr.supported = await navigator.xr.isSessionSupported("immersive-ar"); } catch (e) { xr.supported = false; }
    const b = document.getElementById("enter-ar");
    b.hidden = !xr.supported;
    b.onclick = () => enterAR().catch((e) => setConn(`AR failed: ${e.message}`, true));
  }

  window.cprHud = {
    model, xr, xrMath, errors,
    gauge: () => gaugeGeom,  // {x, y, w, h, lo, hi} of the depth bar in CSS px (flat HUD)
    markerY: (mm) => gaugeGeom && gaugeGeom.y + (Math.min(Math.max(mm, gaugeGeom.lo), gaugeGeom.hi) - gaugeGeom.lo) / (gaugeGeom.hi - gaugeGeom.lo) * gaugeGeom.h,
  };
  initXR();
  connect();
  requestAnimationFrame(drawFlat);
})();

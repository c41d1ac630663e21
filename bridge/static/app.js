// The page of `gesture-rnn bridge --web` (docs/web.md): plain JavaScript, no framework.
// It shows the ensemble live (score, touch trails, state) and sends the lead's touches,
// gestures, temperature and resets back over one WebSocket.
"use strict";

const NAMES = ["N", "FT", "ST", "FS", "FSA", "VSS", "BS", "SS", "C"];
const COLOURS = [
  "#59606b", "#e15759", "#f28e2b", "#edc948", "#59a14f",
  "#76b7b2", "#4e79a7", "#b07aa1", "#ff9da7",
];
const SCORE_SECONDS = 60; // the score shows the last minute
const TRAIL_SECONDS = 3; // a touch fades over this long
const MAX_LOG = 20000; // touches kept for scripts and tests (window.gestureRnn.touchLog)

// Everything the page knows, open to scripts and tests.
const G = (window.gestureRnn = {
  info: null, // the snapshot: players, model, clock, period, names, lead_screen, liveliness_range
  state: {}, // tick, lead, period, temperature, liveliness, received, rejected
  ticks: [], // [number, lead, [gestures...]], oldest first
  trails: {}, // player (0 = lead) -> [{x, y, v, at}]
  touchLog: [], // [player, x, y, velocity] as received
  leadSent: 0, // lead touches this page sent
  connected: false,
});

let socket = null;
let retry = null;

// -- the connection -------------------------------------------------------------------

function connect() {
  clearTimeout(retry);
  if (socket && socket.readyState <= WebSocket.OPEN) return; // connecting or open
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  socket = ws;
  ws.onopen = () => showConnection(true);
  ws.onmessage = (event) => receive(JSON.parse(event.data));
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    showConnection(false);
    retry = setTimeout(connect, 1000);
  };
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function showConnection(on) {
  G.connected = on;
  const badge = document.getElementById("connection");
  badge.textContent = on ? "live" : "reconnecting";
  badge.className = on ? "on" : "off";
}

function receive(message) {
  if (message.type === "snapshot") {
    G.info = message;
    G.ticks = message.ticks.slice();
    makePanels(message.players);
    document.getElementById("model").textContent = message.model;
    labelGestures(message.names);
    showState(message.state, true);
  } else if (message.type === "update") {
    for (const tick of message.ticks) G.ticks.push(tick);
    const keep = Math.ceil(SCORE_SECONDS / period()) + 1;
    if (G.ticks.length > keep) G.ticks.splice(0, G.ticks.length - keep);
    if (message.state) showState(message.state, false);
    const now = performance.now();
    for (const [player, x, y, v] of message.touches) {
      addTrail(player, x, y, v, now);
      G.touchLog.push([player, x, y, v]);
      sound.touch(player, y, v);
    }
    if (G.touchLog.length > MAX_LOG) G.touchLog.splice(0, G.touchLog.length - MAX_LOG);
  }
}

function period() {
  return G.state.period || (G.info && G.info.period) || 1;
}

function showState(state, fresh) {
  if (!state || state.tick === undefined) return;
  G.state = state;
  const text = (id, value) => (document.getElementById(id).textContent = value);
  text("tick", state.tick);
  const p = state.period;
  const clock = G.info ? G.info.clock : "internal";
  text("period-label", clock === "internal" ? "period" : `${clock} clock`);
  text("period", `${p.toFixed(2)} s (${(60 / p).toFixed(0)} a minute)`);
  text("temperature-value", state.temperature.toFixed(2));
  text("received", state.received);
  text("rejected", state.rejected);
  text("liveliness", state.liveliness.toFixed(2));
  const knob = document.getElementById("liveliness-slider");
  if (G.info) [knob.min, knob.max] = G.info.liveliness_range;
  if (fresh || document.activeElement !== knob) knob.value = state.liveliness;
  const slider = document.getElementById("temperature");
  if (fresh || document.activeElement !== slider) slider.value = state.temperature;
  for (const button of document.querySelectorAll("[data-gesture]")) {
    button.classList.toggle("current", Number(button.dataset.gesture) === state.lead);
  }
}

// -- drawing ----------------------------------------------------------------------------

function fitCanvas(canvas) {
  // Drawn at CSS size x devicePixelRatio, so lines are sharp on phones.
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio);
  const height = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return ratio;
}

function drawScore() {
  const canvas = document.getElementById("score");
  const ratio = fitCanvas(canvas);
  const c = canvas.getContext("2d");
  const { width, height } = canvas;
  c.clearRect(0, 0, width, height);
  const players = G.info ? G.info.players : 0;
  const lanes = players + 1;
  const laneHeight = height / lanes;
  const label = 56 * ratio;
  c.font = `${11 * ratio}px system-ui, sans-serif`;
  c.textBaseline = "middle";
  for (let lane = 0; lane < lanes; lane++) {
    c.fillStyle = "#8a8f98";
    c.fillText(lane === 0 ? "lead" : `player ${lane}`, 4 * ratio, (lane + 0.5) * laneHeight);
  }
  if (!G.ticks.length) return;
  const blockWidth = (width - label) / (SCORE_SECONDS / period());
  const last = G.ticks[G.ticks.length - 1][0];
  const xOf = (number) => width - (last - number + 1) * blockWidth;
  let first = G.ticks.length - 1; // the oldest tick in view
  while (first > 0 && xOf(G.ticks[first - 1][0]) + blockWidth > label) first--;
  const gestureOf = (i, lane) => (lane === 0 ? G.ticks[i][1] : G.ticks[i][2][lane - 1]);
  for (let lane = 0; lane < lanes; lane++) {
    const y = lane * laneHeight;
    for (let i = first; i < G.ticks.length; i++) {
      const x = xOf(G.ticks[i][0]);
      c.fillStyle = COLOURS[gestureOf(i, lane)];
      c.fillRect(Math.max(x, label), y + 1, blockWidth - 1, laneHeight - 2);
    }
    // The short name at the start of each run of one gesture, where the run is wide enough.
    c.fillStyle = "#101114";
    for (let i = first; i < G.ticks.length; ) {
      const gesture = gestureOf(i, lane);
      let end = i + 1;
      while (end < G.ticks.length && gestureOf(end, lane) === gesture) end++;
      const x = Math.max(xOf(G.ticks[i][0]), label);
      const runWidth = xOf(G.ticks[end - 1][0]) + blockWidth - x;
      if (runWidth >= c.measureText(NAMES[gesture]).width + 6 * ratio) {
        c.fillText(NAMES[gesture], x + 3 * ratio, y + laneHeight / 2);
      }
      i = end;
    }
  }
}

function addTrail(player, x, y, v, at) {
  const trail = (G.trails[player] = G.trails[player] || []);
  trail.push({ x, y, v, at });
}

function drawTrail(canvas, player, now) {
  const ratio = fitCanvas(canvas);
  const c = canvas.getContext("2d");
  const { width, height } = canvas;
  c.clearRect(0, 0, width, height);
  const trail = G.trails[player] || [];
  let old = 0;
  while (old < trail.length && now - trail[old].at > TRAIL_SECONDS * 1000) old++;
  trail.splice(0, old);
  c.lineWidth = 3 * ratio;
  c.lineCap = "round";
  const colour = player === 0 ? "240, 180, 41" : "120, 190, 255";
  for (let i = 0; i < trail.length; i++) {
    const point = trail[i];
    const alpha = Math.max(0, 1 - (now - point.at) / (TRAIL_SECONDS * 1000));
    c.strokeStyle = c.fillStyle = `rgba(${colour}, ${alpha})`;
    const px = point.x * width;
    const py = point.y * height;
    if (point.v === 0 || i === 0) {
      c.beginPath(); // a touch-down: a dot
      c.arc(px, py, 5 * ratio, 0, 2 * Math.PI);
      c.fill();
    } else {
      c.beginPath(); // moving: a line from the touch before
      c.moveTo(trail[i - 1].x * width, trail[i - 1].y * height);
      c.lineTo(px, py);
      c.stroke();
    }
  }
}

function frame() {
  const now = performance.now();
  drawScore();
  drawTrail(document.getElementById("lead-surface"), 0, now);
  for (const canvas of document.querySelectorAll("canvas[data-player]")) {
    drawTrail(canvas, Number(canvas.dataset.player), now);
  }
  requestAnimationFrame(frame);
}

function makePanels(players) {
  const box = document.getElementById("panels");
  for (const old of box.querySelectorAll(".panel.player")) old.remove();
  for (let p = 1; p <= players; p++) {
    const figure = document.createElement("figure");
    figure.className = "panel player";
    const canvas = document.createElement("canvas");
    canvas.id = `player-${p}`;
    canvas.dataset.player = p;
    const caption = document.createElement("figcaption");
    caption.textContent = `player ${p}`;
    figure.append(canvas, caption);
    box.append(figure);
  }
}

// -- the lead: touches, gestures, temperature, reset -----------------------------------

function setUpLead() {
  const surface = document.getElementById("lead-surface");
  const down = new Map(); // pointerId -> its last position, while it touches
  const position = (event) => {
    const box = surface.getBoundingClientRect();
    const clamp = (v) => Math.min(1, Math.max(0, v));
    return {
      x: clamp((event.clientX - box.left) / box.width),
      y: clamp((event.clientY - box.top) / box.height),
    };
  };
  const play = (point, velocity) => {
    addTrail(0, point.x, point.y, velocity, performance.now());
    if (send({ touch: [point.x, point.y, velocity] })) G.leadSent++;
  };
  surface.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    surface.setPointerCapture(event.pointerId);
    const point = position(event);
    down.set(event.pointerId, point);
    play(point, 0);
  });
  surface.addEventListener("pointermove", (event) => {
    const last = down.get(event.pointerId);
    if (!last) return;
    const point = position(event);
    // Velocity as the bridge reads it: points moved on the lead's screen (1024 x 768).
    const [w, h] = G.info ? G.info.lead_screen : [1024, 768];
    const velocity = Math.hypot((point.x - last.x) * w, (point.y - last.y) * h);
    down.set(event.pointerId, point);
    play(point, velocity);
  });
  const end = (event) => down.delete(event.pointerId);
  surface.addEventListener("pointerup", end);
  surface.addEventListener("pointercancel", end); // the system took the touch: it ended
  surface.addEventListener("lostpointercapture", end);
  surface.addEventListener("contextmenu", (event) => event.preventDefault());
}

function labelGestures(names) {
  for (const button of document.querySelectorAll("[data-gesture]")) {
    const g = Number(button.dataset.gesture);
    button.textContent = `${g} ${(names || NAMES)[g]}`;
  }
}

function setUpControls() {
  const box = document.getElementById("gestures");
  for (let g = 0; g < NAMES.length; g++) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.gesture = g;
    button.style.setProperty("--colour", COLOURS[g]);
    button.addEventListener("click", () => send({ gesture: g }));
    box.append(button);
  }
  labelGestures(NAMES);
  document.addEventListener("keydown", (event) => {
    // Digits are the gestures' everywhere but in a box that takes text (a slider does not).
    const typing = event.target instanceof HTMLInputElement && event.target.type !== "range";
    if (typing || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (/^[0-8]$/.test(event.key)) send({ gesture: Number(event.key) });
  });
  const slider = document.getElementById("temperature");
  slider.addEventListener("input", () => send({ temperature: Number(slider.value) }));
  const knob = document.getElementById("liveliness-slider");
  knob.addEventListener("input", () => send({ liveliness: Number(knob.value) }));
  document.getElementById("reset").addEventListener("click", () => send({ reset: true }));
  document.getElementById("sound").addEventListener("click", () => sound.toggle());
}

// -- optional sound: one WebAudio voice per ensemble player ----------------------------

const sound = {
  context: null,
  on: false,
  voices: {},
  toggle() {
    // Audio may only start inside a click.
    if (!this.context) {
      if (navigator.audioSession) navigator.audioSession.type = "playback"; // iOS mute switch
      this.context = new AudioContext();
    }
    this.on = !this.on;
    if (this.on) this.context.resume();
    else this.context.suspend();
    const button = document.getElementById("sound");
    button.setAttribute("aria-pressed", String(this.on));
    button.textContent = this.on ? "sound off" : "sound on";
  },
  voice(player) {
    if (!this.voices[player]) {
      const c = this.context;
      const oscillator = c.createOscillator();
      const gain = c.createGain();
      oscillator.type = ["triangle", "sawtooth", "square", "sine"][player % 4];
      gain.gain.value = 0;
      oscillator.connect(gain).connect(c.destination);
      oscillator.start();
      this.voices[player] = { oscillator, gain };
    }
    return this.voices[player];
  },
  touch(player, y, velocity) {
    if (!this.on || this.context.state !== "running") return;
    const { oscillator, gain } = this.voice(player);
    const now = this.context.currentTime;
    const frequency = 110 * 2 ** ((1 - y) * 3); // higher on the screen, higher in pitch
    const level = 0.12 / Math.max(1, G.info ? G.info.players : 1);
    if (velocity === 0) {
      // A tap: a pluck that dies away.
      oscillator.frequency.setValueAtTime(frequency, now);
      gain.gain.cancelScheduledValues(now);
      gain.gain.setValueAtTime(level * 2, now);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.6);
    } else {
      // A drag: the pitch sweeps after the finger, and sounds while it moves.
      oscillator.frequency.setTargetAtTime(frequency, now, 0.03);
      gain.gain.cancelScheduledValues(now);
      gain.gain.setTargetAtTime(level, now, 0.02);
      gain.gain.setTargetAtTime(0, now + 0.15, 0.1);
    }
  },
};

// -- coming back to the page ------------------------------------------------------------

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  connect(); // a backgrounded tab may have lost its connection
  if (sound.on && sound.context.state === "suspended") sound.context.resume();
});
window.addEventListener("pageshow", () => connect());

setUpControls();
setUpLead();
connect();
requestAnimationFrame(frame);

// robopref label page: one query at a time, answers sent with a request id and kept in
// localStorage until the server has them, so no click is lost to a reload or a dropped
// connection. The server decides what comes next (and remembers it across reloads).
"use strict";

const SPEEDS = [0.5, 1, 2];
const store = {
  get(key, fallback) { try { return JSON.parse(localStorage.getItem("robopref." + key)) ?? fallback; } catch { return fallback; } },
  set(key, value) { localStorage.setItem("robopref." + key, JSON.stringify(value)); },
  drop(key) { localStorage.removeItem("robopref." + key); },
};
const $ = (id) => document.getElementById(id);

const state = {
  session: store.get("session", null), // {annotator, since}
  next: null,                          // last /api/next response
  ranking: [],                         // triplet positions picked so far, best first
  busy: false,
  speed: store.get("speed", 1),
  userPaused: false,
  pollTimer: null,
};

function requestId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
}

function toast(message, kind = "info", ms = 2500) {
  const el = $("toast");
  el.textContent = message;
  el.className = "toast " + kind;
  el.hidden = false;
  clearTimeout(toast.timer);
  if (ms) toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}

function show(screen) {
  for (const s of ["name", "query", "waiting", "done"]) $("screen-" + s).hidden = s !== screen;
  const named = screen !== "name";
  $("progress").hidden = !named;
  $("who").hidden = !named;
}

// ---- talking to the server -------------------------------------------------------

async function api(method, url, body) {
  const res = await fetch(url, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  return { ok: res.ok, status: res.status, data };
}

// Send one queued POST until the server answers. Network errors and 5xx are retried
// with the same request id (the server records it once); a 4xx is final.
async function deliver(item) {
  for (let attempt = 0; ; attempt++) {
    let res;
    try { res = await api("POST", item.url, item.body); } catch { res = null; }
    if (res && res.status < 500) {
      if (!res.ok) toast((res.data && res.data.error) || ("request failed: " + res.status), "error", 6000);
      return res;
    }
    toast("No connection to the server: your answer is kept and will be sent.", "error", 0);
    await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** attempt)));
  }
}

async function flushPending() {
  let pending = store.get("pending", []);
  while (pending.length) {
    const res = await deliver(pending[0]);
    pending = store.get("pending", []).slice(1);
    store.set("pending", pending);
    if (res.ok) $("toast").hidden = true;
  }
}

async function post(url, body) {
  const pending = store.get("pending", []);
  pending.push({ url, body });
  store.set("pending", pending); // kept before sending: a reload re-sends it
  await flushPending();
}

// ---- session and next query ------------------------------------------------------

async function startSession(annotator) {
  const res = await api("POST", "/api/sessions", { annotator });
  if (!res.ok) { toast(res.data ? res.data.error : "cannot start a session", "error", 6000); return; }
  state.session = { annotator: res.data.annotator, since: res.data.since };
  store.set("session", state.session);
  store.set("annotator", res.data.annotator);
  await loadNext();
}

async function loadNext() {
  clearTimeout(state.pollTimer);
  const s = state.session;
  let res;
  try {
    res = await api("GET", `/api/next?annotator=${encodeURIComponent(s.annotator)}&since=${s.since}`);
  } catch {
    toast("No connection to the server; retrying…", "error", 0);
    state.pollTimer = setTimeout(loadNext, 3000);
    return;
  }
  if (!res.ok) { toast(res.data ? res.data.error : "server error", "error", 6000); return; }
  const next = res.data;
  const previous = state.next;
  state.next = next;
  renderSession(next);
  if (next.session.answered >= next.session.size) {
    stopVideos();
    $("done-text").textContent = `You gave ${next.session.answered} answers in this session. Take a break; the next session starts when you are ready.`;
    show("done");
  } else if (!next.query) {
    stopVideos();
    show("waiting");
    state.pollTimer = setTimeout(loadNext, 3000); // new queries appear without a reload
  } else if (!previous || !previous.query || previous.query.id !== next.query.id || $("screen-query").hidden) {
    renderQuery(next.query, next.question);
    show("query");
  }
  state.busy = false;
  setButtons();
}

function renderSession(next) {
  const { answered, planned } = next.session;
  $("who-name").textContent = next.annotator;
  $("progress-text").textContent = `${answered} / ${Math.max(planned, answered)}`;
  $("progress-fill").style.width = planned ? `${Math.min(100, (100 * answered) / planned)}%` : "0";
  const last = next.last;
  const text = last ? `Last answer: ${describe(last)} on query #${last.query_id}.` : "";
  for (const [box, span] of [["last", "last-text"], ["last-waiting", "last-waiting-text"], ["last-done", "last-done-text"]]) {
    $(box).hidden = !last;
    $(span).textContent = text;
  }
}

function describe(last) {
  if (last.choice === "ranking") return "ranking " + last.ranking.map((p) => p + 1).join(" > ");
  return { left: "left is better", right: "right is better", equal: "about equal", skip: "skipped" }[last.choice];
}

// ---- videos ----------------------------------------------------------------------

function videos() { return Array.from(document.querySelectorAll("#videos video")); }

function stopVideos() { for (const v of videos()) v.pause(); }

// The question the person answers (robopref app question=...) and the task the clips show
// (a LeRobot import's instruction), when there are such: one line above the videos.
function renderQuestion(question, segments) {
  const tasks = [...new Set(segments.map((seg) => seg.task).filter(Boolean))];
  const parts = [];
  if (question) parts.push(question);
  if (tasks.length === 1) parts.push(`Task: ${tasks[0]}`);
  else if (tasks.length > 1) parts.push(`Tasks: ${tasks.join(" / ")}`);
  const el = $("question");
  el.textContent = parts.join(" · ");
  el.hidden = parts.length === 0;
}

function renderQuery(query, question) {
  const box = $("videos");
  box.innerHTML = "";
  box.style.setProperty("--n", query.segments.length);
  box.className = "videos " + query.kind;
  const screen = $("screen-query");
  screen.dataset.queryId = query.id;
  screen.dataset.kind = query.kind;
  const pair = query.kind === "pair";
  $("prompt-title").textContent = pair ? "Which rollout is better?" : "Rank the three rollouts, best first";
  $("query-meta").textContent = `query #${query.id}` + (query.origin ? ` · ${query.origin}` : "");
  renderQuestion(question, query.segments);
  $("answers-pair").hidden = !pair;
  $("answers-triplet").hidden = pair;
  $("note").value = "";
  state.ranking = [];
  state.userPaused = false;
  query.segments.forEach((seg, i) => {
    const clip = document.createElement("div");
    clip.className = "clip loading";
    clip.dataset.position = i;
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "auto";
    video.src = seg.video;
    video.addEventListener("loadeddata", () => { clip.classList.remove("loading"); maybeStart(); });
    video.addEventListener("error", () => toast(`video ${i + 1} could not be loaded`, "error", 6000));
    const caption = document.createElement("div");
    caption.className = "caption";
    caption.textContent = pair ? (i === 0 ? "Left  (1 / ←)" : "Right  (2 / →)") : `Video ${i + 1}  (${i + 1})`;
    clip.append(video, caption);
    if (!pair) clip.addEventListener("click", () => pickRank(i));
    box.append(clip);
  });
  renderRanking();
  applySpeed();
}

function maybeStart() {
  const vs = videos();
  if (vs.length && vs.every((v) => v.readyState >= 2)) replay();
}

function replay() {
  state.userPaused = false;
  for (const v of videos()) { v.currentTime = 0; v.playbackRate = state.speed; v.play().catch(() => {}); }
  $("playpause").innerHTML = "❚❚ Pause <kbd>space</kbd>";
}

function togglePause() {
  const vs = videos();
  if (!vs.length) return;
  state.userPaused = !vs[0].paused;
  for (const v of vs) { if (state.userPaused) v.pause(); else v.play().catch(() => {}); }
  $("playpause").innerHTML = state.userPaused ? "▶ Play <kbd>space</kbd>" : "❚❚ Pause <kbd>space</kbd>";
}

function applySpeed() {
  for (const v of videos()) v.playbackRate = state.speed;
  for (const b of document.querySelectorAll(".speeds button")) b.classList.toggle("on", Number(b.dataset.speed) === state.speed);
  store.set("speed", state.speed);
}

function stepSpeed(delta) {
  const i = Math.max(0, Math.min(SPEEDS.length - 1, SPEEDS.indexOf(state.speed) + delta));
  state.speed = SPEEDS[i];
  applySpeed();
}

// Keep the videos in step: the first one leads, the others follow it; all restart
// together when the leader ends, so the person can watch them side by side in a loop.
setInterval(() => {
  const [lead, ...rest] = videos();
  if (!lead || lead.readyState < 2) return;
  for (const v of rest) if (!lead.paused && Math.abs(v.currentTime - lead.currentTime) > 0.12) v.currentTime = lead.currentTime;
  $("scrub-fill").style.width = lead.duration ? `${(100 * lead.currentTime) / lead.duration}%` : "0";
  if (lead.ended && !state.userPaused && !state.restarting) {
    state.restarting = true;
    setTimeout(() => { state.restarting = false; if (lead.ended && !state.userPaused) replay(); }, 700);
  }
}, 100);

// ---- answering -------------------------------------------------------------------

function setButtons() {
  const triplet = state.next && state.next.query && state.next.query.kind === "triplet";
  for (const b of document.querySelectorAll("#screen-query button.answer, #btn-skip, #btn-clear")) b.disabled = state.busy;
  if (triplet) $("btn-submit-rank").disabled = state.busy || state.ranking.length !== 3;
  for (const id of ["btn-undo", "btn-undo-waiting", "btn-undo-done"]) $(id).disabled = state.busy;
}

function flash(id) {
  const b = $(id);
  if (!b) return;
  b.classList.remove("flash");
  void b.offsetWidth;
  b.classList.add("flash");
}

async function answer(fields) {
  const q = state.next && state.next.query;
  if (!q || state.busy || $("screen-query").hidden) return;
  state.busy = true;
  setButtons();
  const note = $("note").value.trim();
  const body = { annotator: state.session.annotator, query_id: q.id, request_id: requestId(), ...fields };
  if (note) body.note = note;
  await post("/api/answers", body);
  await loadNext();
}

function choose(choice) {
  const q = state.next && state.next.query;
  if (!q) return;
  if (choice !== "skip" && q.kind !== "pair") return;
  flash({ left: "btn-left", right: "btn-right", equal: "btn-equal", skip: "btn-skip" }[choice]);
  answer({ choice });
}

function pickRank(position) {
  const q = state.next && state.next.query;
  if (!q || q.kind !== "triplet" || state.busy || state.ranking.includes(position)) return;
  state.ranking.push(position);
  if (state.ranking.length === 2) state.ranking.push([0, 1, 2].find((p) => !state.ranking.includes(p)));
  renderRanking();
}

function renderRanking() {
  for (const clip of document.querySelectorAll("#videos .clip")) {
    const position = Number(clip.dataset.position);
    const rank = state.ranking.indexOf(position);
    clip.classList.toggle("ranked", rank >= 0);
    let badge = clip.querySelector(".rank");
    if (rank >= 0 && !badge) { badge = document.createElement("div"); badge.className = "rank"; clip.append(badge); }
    if (rank < 0 && badge) badge.remove();
    if (badge) badge.textContent = rank + 1;
  }
  $("rank-hint").innerHTML = state.ranking.length === 3
    ? "Ranking complete: press <kbd>Enter</kbd> to submit, <kbd>⌫</kbd> to start over."
    : "Click the videos (or press <kbd>1</kbd> <kbd>2</kbd> <kbd>3</kbd>) from best to worst.";
  setButtons();
}

function submitRanking() {
  if (state.ranking.length !== 3) return;
  flash("btn-submit-rank");
  answer({ ranking: state.ranking.slice() });
}

async function undo() {
  const last = state.next && state.next.last;
  if (!last || state.busy) { if (!last) toast("Nothing to undo in this session."); return; }
  state.busy = true;
  setButtons();
  await post("/api/undo", { annotator: state.session.annotator, label_id: last.label_id, request_id: requestId() });
  toast(`Undone: query #${last.query_id} is back.`);
  await loadNext();
}

// ---- wiring ----------------------------------------------------------------------

document.addEventListener("keydown", (e) => {
  if (e.target.matches("textarea, input")) { if (e.key === "Escape") e.target.blur(); return; }
  if (e.ctrlKey || e.metaKey || e.altKey || e.repeat || !state.session) return;
  const q = state.next && state.next.query;
  const onQuery = !$("screen-query").hidden && q;
  const key = e.key;
  if (key === "u" || key === "z") { e.preventDefault(); undo(); return; }
  if (!onQuery) return;
  if (key === "r") replay();
  else if (key === " ") { e.preventDefault(); togglePause(); }
  else if (key === "[") stepSpeed(-1);
  else if (key === "]") stepSpeed(1);
  else if (key === "s") choose("skip");
  else if (q.kind === "pair") {
    if (key === "ArrowLeft" || key === "1") { e.preventDefault(); choose("left"); }
    else if (key === "ArrowRight" || key === "2") { e.preventDefault(); choose("right"); }
    else if (key === "ArrowDown" || key === "=") { e.preventDefault(); choose("equal"); }
  } else {
    if (["1", "2", "3"].includes(key)) pickRank(Number(key) - 1);
    else if (key === "Enter") { e.preventDefault(); submitRanking(); }
    else if (key === "Backspace") { state.ranking = []; renderRanking(); }
  }
});

for (const b of document.querySelectorAll("#answers-pair button")) b.addEventListener("click", () => choose(b.dataset.choice));
$("btn-skip").addEventListener("click", () => choose("skip"));
$("btn-submit-rank").addEventListener("click", submitRanking);
$("btn-clear").addEventListener("click", () => { state.ranking = []; renderRanking(); });
for (const id of ["btn-undo", "btn-undo-waiting", "btn-undo-done"]) $(id).addEventListener("click", undo);
$("replay").addEventListener("click", replay);
$("playpause").addEventListener("click", togglePause);
for (const b of document.querySelectorAll(".speeds button")) b.addEventListener("click", () => { state.speed = Number(b.dataset.speed); applySpeed(); });
$("name-form").addEventListener("submit", (e) => { e.preventDefault(); const name = $("name-input").value.trim(); if (name) startSession(name); });
$("switch").addEventListener("click", () => { stopVideos(); store.drop("session"); state.session = null; state.next = null; $("name-input").value = store.get("annotator", ""); show("name"); });
$("new-session").addEventListener("click", () => startSession(state.session.annotator));

(async function init() {
  if (!state.session) {
    $("name-input").value = store.get("annotator", "");
    show("name");
    $("name-input").focus();
    return;
  }
  await flushPending(); // answers clicked before a reload or a lost connection go first
  await loadNext();
})();

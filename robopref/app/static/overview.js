// Overview page: renders /api/overview and refreshes it every 10 s.
"use strict";

const $ = (id) => document.getElementById(id);
const pct = (x) => (x == null ? "–" : `${(100 * x).toFixed(0)}%`);
const num = (x, d = 1) => (x == null ? "–" : Number(x).toFixed(d));

function table(el, head, rows) {
  el.innerHTML = "";
  const tr = el.insertRow();
  for (const h of head) { const th = document.createElement("th"); th.textContent = h; tr.append(th); }
  if (!rows.length) { const r = el.insertRow(); const c = r.insertCell(); c.colSpan = head.length; c.textContent = "nothing yet"; c.className = "meta"; }
  for (const row of rows) { const r = el.insertRow(); for (const cell of row) r.insertCell().textContent = cell; }
}

function tiles(o) {
  const items = [
    [o.queries.pair + o.queries.triplet, `queries (${o.queries.pair} pairs, ${o.queries.triplet} triplets)`],
    [o.queries_without_label, "queries without a label"],
    [o.labels, "labels in effect"],
    [o.by_annotator.length, "annotators"],
    [num(o.human_rate.labels_per_hour, 0), "human labels per active hour"],
  ];
  $("tiles").innerHTML = "";
  for (const [value, text] of items) {
    const t = document.createElement("div");
    t.className = "tile";
    t.innerHTML = "<b></b><span></span>";
    t.querySelector("b").textContent = value;
    t.querySelector("span").textContent = text;
    $("tiles").append(t);
  }
}

function render(o) {
  tiles(o);
  table($("annotators"), ["annotator", "source", "labels", "preference", "equal", "skip", "undone", "labels / h", "s / label"],
    o.by_annotator.map((a) => [a.annotator, a.source, a.labels, a.kinds.preference || 0, a.kinds.equal || 0, a.kinds.skip || 0,
      a.undone, num(a.labels_per_hour, 0), num(a.median_seconds_per_label)]));
  table($("sources"), ["source", "labels"], Object.entries(o.by_source));
  const max = Math.max(1, ...o.hourly.map((h) => h.labels));
  $("hours").innerHTML = "";
  for (const h of o.hourly.slice(-24)) {
    const bar = document.createElement("div");
    bar.style.height = `${(100 * h.labels) / max}%`;
    bar.title = `${h.hour}: ${h.labels}`;
    $("hours").append(bar);
  }
  $("hours-legend").textContent = o.hourly.length ? `${o.hourly[0].hour} … ${o.hourly[o.hourly.length - 1].hour} UTC, max ${max} per hour` : "no human labels yet";
  const ag = o.agreement;
  table($("agreement"), ["annotators", "pairs", "agree", "Cohen's κ", "triplets", "same ranking", "same best"],
    ag.by_annotator_pair.map((r) => [r.annotators.join(" · "), r.pairs, pct(r.pair_agreement), num(r.pair_kappa, 2), r.triplets,
      pct(r.ranking_agreement), pct(r.best_agreement)]));
  $("agreement-summary").textContent = `Overall: ${pct(ag.pair_agreement)} of ${ag.pairs} shared pair answers agree; ` +
    `${pct(ag.ranking_agreement)} of ${ag.triplets} shared triplet rankings are identical.`;
  $("updated").textContent = `store ${o.store} · updated ${new Date(o.generated * 1000).toLocaleTimeString()}`;
}

async function refresh() {
  try {
    const res = await fetch("/api/overview");
    if (res.ok) render(await res.json());
  } finally {
    setTimeout(refresh, 10000);
  }
}
refresh();

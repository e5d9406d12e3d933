// The local system's console: renders the samples of /_console/events, runs the /_cluster actions.
// Every number shown comes from a sample (the nodes', workers' and queues' own figures) or an API answer.
"use strict";

const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"];
const WINDOW_SECONDS = 300;
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

let latest = null;
let ringSignature = "";
let token = null;
let lookedUp = null;

function colour(nodeId) {
  const n = parseInt(String(nodeId).replace(/\D+/g, ""), 10);
  return PALETTE[(Number.isFinite(n) ? n - 1 : 0) % PALETTE.length];
}

function el(tag, attributes = {}, text = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function fmt(value, digits = 1, unit = "") {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(digits)}${unit}`;
}

function pct(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

function say(text, isError = false) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = false;
}

// -- calls -------------------------------------------------------------------------------

async function loadToken() {
  const answer = await fetch("/_console/token", { cache: "no-store" });
  token = answer.status === 200 ? (await answer.json()).token : null;
}

async function authorised(path, options = {}) {
  // /items and /jobs calls carry the console's bearer token when the system runs with auth.
  const send = () => fetch(path, { ...options, headers: { ...(options.headers || {}), ...(token ? { Authorization: `Bearer ${token}` } : {}) } });
  let answer = await send();
  if (answer.status === 401) {
    await loadToken();
    answer = await send();
  }
  return answer;
}

async function admin(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["content-type"] = "application/json";
  }
  const answer = await fetch(path, options);
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) {
    const reason = data && data.error ? data.error.message : `${answer.status} ${answer.statusText}`;
    throw new Error(reason);
  }
  return data;
}

async function act(button, label, run) {
  if (button) button.disabled = true;
  try {
    const outcome = await run();
    say(`${label}: ${outcome}`);
  } catch (error) {
    say(`${label} refused: ${error.message}`, true);
  } finally {
    if (button) button.disabled = false;
  }
}

// -- ring --------------------------------------------------------------------------------

function point(fraction, radius) {
  const angle = fraction * 2 * Math.PI - Math.PI / 2;
  return [radius * Math.cos(angle), radius * Math.sin(angle)];
}

function arcPath(start, end, radius) {
  const [x1, y1] = point(start, radius);
  const [x2, y2] = point(end, radius);
  const large = end - start > 0.5 ? 1 : 0;
  return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${radius} ${radius} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

function drawRing(ring) {
  const signature = JSON.stringify([ring.members, ring.vnodes]);
  const svg = $("ring");
  if (signature !== ringSignature) {
    ringSignature = signature;
    svg.querySelectorAll("g").forEach((g) => g.remove());
    const arcs = el("g", { id: "ring-arcs", fill: "none", "stroke-width": "16" }, null, SVG);
    for (const [start, end, owner] of ring.arcs) {
      arcs.appendChild(el("path", { d: arcPath(start, end, 95), stroke: colour(owner), "data-node": owner }, null, SVG));
    }
    svg.appendChild(arcs);
    const shares = el("g", { id: "ring-shares", fill: "none", "stroke-width": "14" }, null, SVG);
    let from = 0;
    for (const member of ring.members) {
      const to = from + (ring.shares[member] || 0);
      shares.appendChild(el("path", { d: arcPath(from, Math.min(to, 0.99999), 66), stroke: colour(member), "data-node": member }, null, SVG));
      from = to;
    }
    svg.appendChild(shares);
    $("ring-vnodes").textContent = String(ring.vnodes);
    svg.appendChild(el("g", { id: "ring-key" }, null, SVG));
    const legend = $("ring-legend");
    legend.replaceChildren();
    for (const member of ring.members) {
      const item = el("li", { "data-node": member });
      const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = colour(member);
      item.append(swatch, el("span", {}, `${member}: ${pct(ring.shares[member])} of keys`));
      legend.appendChild(item);
    }
    if (lookedUp) lookUp(lookedUp, false);
  }
  drawKey();
}

function drawKey() {
  const group = document.getElementById("ring-key");
  if (!group) return;
  group.replaceChildren();
  if (!lookedUp || !lookedUp.placement) return;
  const [x, y] = point(lookedUp.placement.position, 104);
  const [x0, y0] = point(lookedUp.placement.position, 82);
  group.appendChild(el("line", { x1: x0, y1: y0, x2: x, y2: y, stroke: "#000", "stroke-width": "2.5" }, null, SVG));
  group.appendChild(el("circle", { cx: x0, cy: y0, r: "4", fill: "#000" }, null, SVG));
  group.appendChild(el("text", { x: "0", y: "4", "text-anchor": "middle", "font-size": "11" }, `key → ${lookedUp.placement.owner}`, SVG));
  for (const li of $("ring-legend").children) {
    const node = li.dataset.node;
    li.classList.toggle("owner", node === lookedUp.placement.owner);
    li.classList.toggle("fallback", lookedUp.placement.fallbacks.slice(0, 2).includes(node));
  }
}

async function lookUp(key, announce = true) {
  lookedUp = { key, placement: null };
  try {
    const ring = await admin("GET", `/_cluster/ring?key=${encodeURIComponent(key)}`);
    lookedUp.placement = ring.key;
    $("key-owner").textContent = ring.key.owner;
    $("key-owner").dataset.owner = ring.key.owner;
    $("key-fallbacks").textContent = ring.key.fallbacks.join(", ") || "none (one node)";
  } catch (error) {
    lookedUp = null;
    $("key-owner").textContent = "—";
    delete $("key-owner").dataset.owner;
    $("key-fallbacks").textContent = "—";
    $("key-answer").textContent = "—";
    if (announce) say(`Key refused: ${error.message}`, true);
    drawKey();
    return;
  }
  drawKey();
  const answer = await authorised(`/items/${encodeURIComponent(key)}`);
  const servedBy = answer.headers.get("x-served-by-node");
  let text = `${answer.status}`;
  try {
    const body = await answer.json();
    if (answer.ok) {
      const owner = nodeIdOf(body.owner);
      $("key-answer").dataset.owner = owner;
      if (lookedUp.placement && owner !== lookedUp.placement.owner) text += ` · owner ${owner}, not the ring's ${lookedUp.placement.owner}: a node's ring has not caught up yet`;
      else text += ` · owner ${owner}`;
      text += ` · answered from ${body.cache === "db" ? "the database" : body.cache === "local" ? "the owner's memory" : body.cache}`;
    } else {
      delete $("key-answer").dataset.owner;
      text += ` · ${body.error ? body.error.message : answer.statusText}`;
    }
  } catch (error) {
    text += ` · ${answer.statusText}`;
  }
  $("key-answer").textContent = `${text}${servedBy ? ` · via ${servedBy}` : ""}`;
}

function nodeIdOf(member) {
  const node = latest && latest.nodes.find((n) => n.member === member);
  return node ? node.id : member;
}

// -- tables ------------------------------------------------------------------------------

function syncRows(tbody, items, build, update) {
  const seen = new Set();
  for (const item of items) {
    seen.add(item.id);
    let row = tbody.querySelector(`tr[data-id="${CSS.escape(item.id)}"]`);
    if (!row) {
      row = build(item);
      row.dataset.id = item.id;
      tbody.appendChild(row);
    }
    update(row, item);
  }
  for (const row of [...tbody.rows]) if (!seen.has(row.dataset.id)) row.remove();
}

function cells(row, count) {
  while (row.cells.length < count) row.insertCell();
  return row.cells;
}

function drawNodes(sample) {
  syncRows($("nodes").tBodies[0], sample.nodes, () => el("tr"), (row, node) => {
    const c = cells(row, 7);
    if (!c[0].firstChild) {
      const swatch = el("span", { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = colour(node.id);
      c[0].append(swatch, document.createTextNode(` ${node.id}`));
      c[0].title = node.member;
    }
    c[1].textContent = node.healthy ? "healthy" : "unhealthy";
    c[1].className = node.healthy ? "" : "state-bad";
    c[2].textContent = fmt(node.rps);
    c[2].className = "num";
    c[3].textContent = node.reads ? `${fmt(node.reads.local)} · ${fmt(node.reads.redis)} · ${fmt(node.reads.db)}` : "—";
    c[4].textContent = pct(node.hit_rate);
    c[4].className = "num";
    c[5].textContent = String(node.in_flight);
    c[5].className = "num";
    c[6].textContent = pct(sample.ring.shares[node.id]);
    c[6].className = "num";
  });
  const select = $("remove-choice");
  const chosen = select.value;
  const ids = sample.nodes.map((n) => n.id);
  if ([...select.options].map((o) => o.value).join() !== ids.join()) {
    select.replaceChildren(...ids.map((id) => el("option", { value: id }, id)));
    if (ids.includes(chosen)) select.value = chosen;
  }
}

function drawWorkers(sample) {
  syncRows($("workers").tBodies[0], sample.workers, (worker) => {
    const row = el("tr");
    const c = cells(row, 5);
    const kill = el("button", { type: "button", class: "kill" }, "kill -9");
    kill.setAttribute("aria-label", `kill -9 ${worker.id}`);
    kill.addEventListener("click", () => act(kill, `kill -9 ${worker.id}`, async () => {
      const killed = await admin("POST", `/_cluster/workers/${encodeURIComponent(worker.id)}/kill`);
      // The answer comes once the process has died: show it dead until a sample shows it back.
      const state = row.cells[1];
      state.textContent = "dead (killed, restarting)";
      state.className = "worker-state state-bad";
      row.dataset.killedPid = String(killed.pid);
      return `pid ${killed.pid} died of SIGKILL; the supervisor restarts it`;
    }));
    c[4].appendChild(kill);
    return row;
  }, (row, worker) => {
    const c = cells(row, 5);
    c[0].textContent = worker.id;
    const stillKilled = row.dataset.killedPid === String(worker.pid);
    if (!stillKilled) delete row.dataset.killedPid;
    if (!stillKilled) {
      c[1].textContent = worker.alive ? "alive" : "dead (restarting)";
      c[1].className = worker.alive ? "worker-state" : "worker-state state-bad";
    }
    const exit = worker.last_exit === null ? "" : worker.last_exit < 0 ? ` (last: signal ${-worker.last_exit})` : ` (last exit code ${worker.last_exit})`;
    c[2].textContent = `${worker.restarts}${exit}`;
    c[2].className = "num";
    c[3].textContent = worker.jobs.length ? worker.jobs.map((j) => `${j.type} ${j.id.slice(0, 8)}`).join(", ") : "idle";
  });
}

function figures(dl, pairs) {
  dl.replaceChildren();
  for (const [name, value] of pairs) dl.append(el("dt", {}, name), el("dd", {}, value));
}

function drawQueues(sample) {
  const q = sample.queue;
  figures($("queue"), [
    ["queue depth", `${q.messages} messages waiting`],
    ["in flight", `${q.in_flight} messages received, not yet deleted`],
    ["dead-letter queue", `${q.dead_letters} messages`],
  ]);
  figures($("jobs"), Object.entries(sample.jobs).map(([status, count]) => [`jobs ${status}`, String(count)]));
  const select = $("job-type");
  if ([...select.options].map((o) => o.value).join() !== sample.job_types.join()) {
    const chosen = select.value || "sleep";
    select.replaceChildren(...sample.job_types.map((t) => el("option", { value: t }, t)));
    if (sample.job_types.includes(chosen)) select.value = chosen;
  }
}

function drawMembership(change) {
  const box = $("membership");
  if (!change) return;
  const parts = [el("p", {}, `${change.before.length} → ${change.after.length} nodes at ${new Date(change.at * 1000).toLocaleTimeString()}` +
    (change.joined.length ? `; joined: ${change.joined.join(", ")}` : "") + (change.left.length ? `; left: ${change.left.join(", ")}` : ""))];
  parts.push(el("p", {}, `Keys that changed owner: ${pct(change.moved_total)} of the key space; the optimum is ${pct(change.optimum)} (exact, from the rings' arc lengths).`));
  const list = el("ul");
  for (const m of change.moved) list.appendChild(el("li", {}, `${m.from} → ${m.to}: ${pct(m.fraction)}`));
  parts.push(list);
  box.replaceChildren(...parts);
}

function drawLoad(sample) {
  const load = sample.load;
  const statuses = Object.entries(load.statuses).map(([s, n]) => `${s}: ${n}`).join(", ") || "none";
  $("load-state").textContent = load.running
    ? `running: ${load.rate} requests/s, Zipf s = ${load.zipf_s} over ${load.keys} keys; answers so far ${statuses}; errors ${load.errors}`
    : `not running (answers of the last run: ${statuses})`;
  const redis = sample.redis;
  $("redis-state").textContent = redis.managed
    ? `run by this system at ${redis.url}: ${redis.running ? "running" : "stopped"}`
    : redis.url ? `${redis.url}, not run by this system (stop/start needs --redis)` : "no Redis tier (start with --redis)";
}

// -- charts ------------------------------------------------------------------------------

function drawChart(svg, history, markers, field, now, fixedMax, unit, scale = 1) {
  const [w, h, left, top, bottom] = [400, 110, 34, 8, 96];
  const values = history.map((p) => (p[field] === null ? null : p[field] * scale));
  const max = fixedMax || Math.max(10, ...values.filter((v) => v !== null).map((v) => Math.ceil(v / 10) * 10));
  const x = (t) => left + ((t - (now - WINDOW_SECONDS)) / WINDOW_SECONDS) * (w - left - 4);
  const y = (v) => bottom - (v / max) * (bottom - top);
  svg.replaceChildren();
  svg.appendChild(el("line", { x1: left, y1: bottom, x2: w - 4, y2: bottom, stroke: "#999" }, null, SVG));
  svg.appendChild(el("line", { x1: left, y1: top, x2: left, y2: bottom, stroke: "#999" }, null, SVG));
  svg.appendChild(el("text", { x: left - 3, y: top + 6, "text-anchor": "end" }, `${max}${unit}`, SVG));
  svg.appendChild(el("text", { x: left - 3, y: bottom, "text-anchor": "end" }, `0${unit}`, SVG));
  svg.appendChild(el("text", { x: left, y: h - 2 }, "−5 min", SVG));
  svg.appendChild(el("text", { x: w - 4, y: h - 2, "text-anchor": "end" }, "now", SVG));
  for (const marker of markers) {
    if (marker.at < now - WINDOW_SECONDS) continue;
    svg.appendChild(el("line", { x1: x(marker.at), y1: top, x2: x(marker.at), y2: bottom, stroke: "#D55E00", "stroke-dasharray": "3 2" }, null, SVG));
    svg.appendChild(el("text", { x: x(marker.at) + 2, y: top + 8 }, marker.label, SVG));
  }
  let segment = [];
  const flush = () => {
    if (segment.length > 1) svg.appendChild(el("polyline", { points: segment.join(" "), fill: "none", stroke: "#0072B2", "stroke-width": "1.5" }, null, SVG));
    segment = [];
  };
  history.forEach((p, i) => {
    if (values[i] === null || p.at < now - WINDOW_SECONDS) flush();
    else segment.push(`${x(p.at).toFixed(1)},${y(Math.min(values[i], max)).toFixed(1)}`);
  });
  flush();
}

// -- the stream --------------------------------------------------------------------------

function render(sample) {
  latest = sample;
  $("connection").textContent = `live · sampled every ${sample.interval} s · last at ${new Date(sample.at * 1000).toLocaleTimeString()}`;
  drawRing(sample.ring);
  drawNodes(sample);
  drawChart($("chart-rps"), sample.history, sample.markers, "rps", sample.at, null, "/s");
  drawChart($("chart-hit"), sample.history, sample.markers, "hit_rate", sample.at, 100, "%", 100);
  drawMembership(sample.membership);
  drawWorkers(sample);
  drawQueues(sample);
  drawLoad(sample);
}

function connect() {
  const events = new EventSource("/_console/events");
  events.onmessage = (event) => render(JSON.parse(event.data));
  events.onerror = () => {
    $("connection").textContent = "disconnected: the system stopped or restarts; retrying…";
  };
}

function wire() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value;
    if (key) lookUp(key);
  });
  $("add-node").addEventListener("click", (event) => act(event.currentTarget, "Add a web node", async () => {
    const node = await admin("POST", "/_cluster/nodes");
    return `${node.id} started at ${node.url}; the ring picks it up at the nodes' next refresh`;
  }));
  $("remove-node").addEventListener("click", (event) => {
    const id = $("remove-choice").value;
    act(event.currentTarget, `Remove ${id}`, async () => {
      if (!id) throw new Error("choose a node first");
      await admin("DELETE", `/_cluster/nodes/${encodeURIComponent(id)}`);
      return `${id} left the balancer and the ring, and stopped`;
    });
  });
  $("add-worker").addEventListener("click", (event) => act(event.currentTarget, "Start a worker", async () => {
    const worker = await admin("POST", "/_cluster/workers");
    return `${worker.id} started`;
  }));
  $("jobs-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, "Submit jobs", async () => {
      let payload;
      try {
        payload = JSON.parse($("job-payload").value || "{}");
      } catch (error) {
        throw new Error(`the payload is not JSON: ${error.message}`);
      }
      const body = { type: $("job-type").value, count: Number($("job-count").value), payload };
      const outcome = await admin("POST", "/_cluster/jobs", body);
      return `${outcome.accepted.length} ${outcome.type} jobs accepted${outcome.refused ? `, ${outcome.refused} refused` : ""}`;
    });
  });
  $("load-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, "Start the read load", async () => {
      const load = await admin("PUT", "/_cluster/load", { rate: Number($("load-rate").value), zipf_s: Number($("load-zipf").value) });
      return `${load.rate} requests/s with Zipf s = ${load.zipf_s}`;
    });
  });
  $("load-stop").addEventListener("click", (event) => act(event.currentTarget, "Stop the read load", async () => {
    await admin("DELETE", "/_cluster/load");
    return "stopped";
  }));
  $("redis-stop").addEventListener("click", (event) => act(event.currentTarget, "Stop Redis", async () => {
    await admin("POST", "/_cluster/redis/stop");
    return "stopped; the nodes fall back to their memory and the database";
  }));
  $("redis-start").addEventListener("click", (event) => act(event.currentTarget, "Start Redis", async () => {
    await admin("POST", "/_cluster/redis/start");
    return "started (empty: it warms up again)";
  }));
}

wire();
loadToken().catch(() => { token = null; }).finally(connect);

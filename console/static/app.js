"use strict";
// Depot Microgrid console. Only the public GraphQL API: queries and mutations
// over HTTP, the Microgrid card over graphql-transport-ws.

const TOKEN_KEY = "mgs.token";
const $ = (id) => document.getElementById(id);

const Q = {
  viewer: "query { viewer { role depotIds } }",
  depots: "query { depots(first: 100) { edges { node { id name } } } }",
  card: `query ($depotId: ID!) { microgridCard(depotId: $depotId) {
    __typename ... on MicrogridCard { ...Card } ... on NotFound { message } } }`,
  cardSub: `subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
    reason card { ...Card } } }`,
  cardFields: `fragment Card on MicrogridCard {
    microgridId revision generatedAt
    peakShaving { ...Status } der { ...Status }
    powerSources { id name kind powerState operationalMode socPercent loadW updatedAt }
    gridConnections { name circuit { name effectiveCapacityW capacitySource heartbeatStatus } } }
  fragment Status on CapabilityStatus {
    capability status freshness observedAt staleAt staleAfterSeconds }`,
  admin: `query ($depotId: ID!) { microgridByDepot(depotId: $depotId) {
    __typename
    ... on Microgrid {
      id version updatedAt
      topology { id parentId kind name depth }
      drift { inSync added removed renamed reordered }
      controllerBindings(includeDisabled: true) {
        id deviceId capabilities enabled staleAfterSeconds lastReportedAt device { name } }
      depot { devices { id name } }
    }
    ... on NotFound { message } } }`,
  resync: `mutation ($depotId: ID!, $dryRun: Boolean!) {
    resyncMicrogrid(depotId: $depotId, dryRun: $dryRun) {
      __typename
      ... on ResyncSuccess { changed previousVersion dryRun microgrid { version }
        plan { inSync added removed renamed reordered } }
      ... on Problem { code message } } }`,
  createBinding: `mutation ($input: CreateControllerBindingInput!) {
    result: createControllerBinding(input: $input) { ...BindingResult } }`,
  updateBinding: `mutation ($input: UpdateControllerBindingInput!) {
    result: updateControllerBinding(input: $input) { ...BindingResult } }`,
  enableBinding: `mutation ($id: ID!) { result: enableControllerBinding(id: $id) { ...BindingResult } }`,
  disableBinding: `mutation ($id: ID!) { result: disableControllerBinding(id: $id) { ...BindingResult } }`,
  bindingResult: `fragment BindingResult on ControllerBindingResult {
    __typename
    ... on ControllerBinding { id }
    ... on ValidationFailed { message fieldErrors { field code message } }
    ... on Conflict { code message }
    ... on NotFound { code message } }`,
};

const state = { token: null, role: null, depotId: null, card: null, view: "card",
                socket: null, backoff: 1, reconnectTimer: null, editing: null };

class ApiError extends Error {
  constructor(message, code) { super(message); this.code = code; }
}

async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Authorization": `Bearer ${state.token}` },
    body: JSON.stringify({ query, variables }),
  });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  const error = body && body.errors && body.errors[0];
  if (!response.ok || error) {
    const code = error && error.extensions ? error.extensions.code : `HTTP_${response.status}`;
    throw new ApiError(error ? error.message : `HTTP ${response.status}`, code);
  }
  return body.data;
}

// ------------------------------------------------------------------ session

async function signIn(token) {
  state.token = token;
  const { viewer } = await gql(Q.viewer);
  state.role = viewer.role;
  sessionStorage.setItem(TOKEN_KEY, token);
  $("role").textContent = viewer.role;
  $("session").hidden = false;
  $("sign-in").hidden = true;
  $("workspace").hidden = false;
  $("tab-admin").hidden = viewer.role !== "admin";
  await loadDepots();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  closeSocket();
  Object.assign(state, { token: null, role: null, depotId: null, card: null });
  $("session").hidden = true;
  $("workspace").hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
  $("token").focus();
}

async function loadDepots() {
  const { depots } = await gql(Q.depots);
  const select = $("depot");
  select.replaceChildren(...depots.edges.map(({ node }) => new Option(node.name, node.id)));
  if (!depots.edges.length) {
    showCardMessage("No depots are visible to this token.");
    return;
  }
  await selectDepot(select.value);
}

async function selectDepot(depotId) {
  state.depotId = depotId;
  state.card = null;
  await refreshCard();
  subscribe();
  if (state.view === "admin") await loadAdmin();
}

// ------------------------------------------------------------------ card

async function refreshCard() {
  const data = await gql(Q.card + Q.cardFields, { depotId: state.depotId });
  const result = data.microgridCard;
  if (result.__typename !== "MicrogridCard") {
    showCardMessage(result.message);
    return;
  }
  renderCard(result);
}

function showCardMessage(message) {
  $("card").hidden = true;
  $("card-empty").hidden = false;
  $("card-empty").textContent = message;
}

function renderCard(card) {
  state.card = card;
  $("card-empty").hidden = true;
  $("card").hidden = false;
  $("revision").textContent = String(card.revision);
  renderCapability(card.peakShaving, "Peak shaving");
  renderCapability(card.der, "DER export limiting");
  $("power-sources").replaceChildren(...(card.powerSources.length ? card.powerSources.map((p) =>
    item(`${p.name} (${p.kind.toLowerCase()}): SOC ${fmt(p.socPercent, "%")}, mode ` +
         `${p.operationalMode || "unknown"}, power ${p.powerState || "unknown"}, load ` +
         `${fmt(p.loadW, " W")}`)) : [item("No local power source at this depot.")]));
  $("capacity").replaceChildren(...card.gridConnections.map((g) => {
    const c = g.circuit;
    if (!c) return item(`${g.name}: circuit missing (drift)`);
    const source = { CONTROLLER_AVAILABLE: "controller, available capacity",
                     CONTROLLER_FAIL_SAFE: "controller fail-safe capacity",
                     CONFIGURED_SAFE: "configured safe capacity" }[c.capacitySource] || "not set";
    return item(`${c.name}: effective ${fmt(c.effectiveCapacityW, " W")} — ${source}` +
                (c.heartbeatStatus ? `, heartbeat ${c.heartbeatStatus.toLowerCase()}` : ""));
  }));
  tick();
}

function renderCapability(status, title) {
  const box = $(`cap-${status.capability}`);
  const marker = { FRESH: ["fresh", "✓ Fresh"], STALE: ["stale", "⚠ Stale"],
                   NEVER_REPORTED: ["never", "— Never reported"] }[status.freshness];
  const observed = status.observedAt ? new Date(status.observedAt) : null;
  box.dataset.freshness = status.freshness;
  box.dataset.status = status.status;
  box.innerHTML = "";
  box.append(el("h3", {}, `${title} (${status.capability})`),
             el("p", { class: "status", "data-role": "status" }, status.status),
             el("span", { class: `marker ${marker[0]}`, "data-role": "marker" }, marker[1]));
  if (observed) {
    const ago = el("button", { class: "ago", type: "button", "data-observed": status.observedAt,
                               title: `Observed ${observed.toISOString()}`,
                               "aria-expanded": "false" }, "");
    const detail = el("p", { class: "observed", hidden: "" },
                      `Observed ${observed.toISOString()}; stale after ` +
                      `${status.staleAfterSeconds} s (at ${new Date(status.staleAt).toISOString()})`);
    ago.addEventListener("click", () => {
      detail.hidden = !detail.hidden;
      ago.setAttribute("aria-expanded", String(!detail.hidden));
    });
    box.append(ago, detail);
  }
}

function tick() {
  for (const node of document.querySelectorAll("[data-observed]")) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(node.dataset.observed)) / 1000));
    node.textContent = `updated ${seconds} s ago`;
  }
}

// ------------------------------------------------------------------ live updates

function closeSocket() {
  clearTimeout(state.reconnectTimer);
  if (state.socket) {
    state.socket.onclose = null;
    state.socket.close();
    state.socket = null;
  }
}

function setLive(up, text) {
  const live = $("live");
  live.className = `live ${up ? "up" : "down"}`;
  live.textContent = text;
}

function subscribe() {
  closeSocket();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const socket = new WebSocket(url, "graphql-transport-ws");
  state.socket = socket;
  setLive(false, "Connecting…");
  socket.onopen = () => socket.send(JSON.stringify({
    type: "connection_init", payload: { Authorization: `Bearer ${state.token}` } }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      state.backoff = 1;
      setLive(true, "Live");
      socket.send(JSON.stringify({ id: "card", type: "subscribe", payload: {
        query: Q.cardSub + Q.cardFields, variables: { depotId: state.depotId } } }));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload.data) {
      const update = message.payload.data.microgridCard;
      const previous = state.card ? state.card.revision : null;
      renderCard(update.card);
      if (previous !== null && update.card.revision > previous + 1 && update.reason !== "SNAPSHOT") {
        refreshCard().catch(() => {});  // a revision gap: read the whole card again
      }
    } else if (message.type === "next" || message.type === "error") {
      setLive(false, "Live updates unavailable for this depot");
    }
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    if (event.code === 4401 || event.code === 4403) {
      setLive(false, "Not authorised for live updates");
      return;
    }
    const wait = state.backoff;
    state.backoff = Math.min(state.backoff * 2, 30);
    setLive(false, `Live connection lost — reconnecting in ${wait} s`);
    state.reconnectTimer = setTimeout(subscribe, wait * 1000);
  };
}

// ------------------------------------------------------------------ admin

async function loadAdmin() {
  const data = await gql(Q.admin, { depotId: state.depotId });
  const m = data.microgridByDepot;
  const box = $("admin-microgrid");
  $("resync-plan").hidden = true;
  if (m.__typename !== "Microgrid") {
    box.replaceChildren(el("p", { class: "muted" }, m.message));
    $("bindings").tBodies[0].replaceChildren();
    return;
  }
  box.replaceChildren(
    el("dl", { class: "facts" },
       el("dt", {}, "Microgrid id"), el("dd", { "data-role": "microgrid-id" }, m.id),
       el("dt", {}, "Version"), el("dd", { "data-role": "version" }, String(m.version)),
       el("dt", {}, "Drift"), el("dd", { "data-role": "drift" }, describePlan(m.drift))),
    el("h3", {}, "Structure"), tree(m.topology));
  renderBindings(m);
}

function describePlan(plan) {
  if (plan.inSync) return "In sync";
  const parts = [];
  if (plan.added.length) parts.push(`${plan.added.length} to add`);
  if (plan.removed.length) parts.push(`${plan.removed.length} to remove`);
  if (plan.renamed.length) parts.push(`${plan.renamed.length} to rename`);
  if (plan.reordered) parts.push("order differs");
  return `Out of sync: ${parts.join(", ")}`;
}

function tree(nodes) {
  const root = el("ul", { class: "tree", role: "tree", "aria-label": "Microgrid structure" });
  const lists = new Map([[null, root]]);
  for (const node of nodes) {
    const li = el("li", { role: "treeitem" }, el("span", { class: "kind" }, node.kind), node.name);
    const parent = lists.get(node.parentId) || root;
    parent.append(li);
    const children = el("ul", { class: "tree", role: "group" });
    li.append(children);
    lists.set(node.id, children);
  }
  return root;
}

async function resync() {
  const box = $("resync-plan");
  const dry = (await gql(Q.resync, { depotId: state.depotId, dryRun: true })).resyncMicrogrid;
  box.hidden = false;
  if (dry.__typename !== "ResyncSuccess") {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, `${dry.code}: ${dry.message}`));
    return;
  }
  if (dry.plan.inSync) {
    box.replaceChildren(el("p", { "data-role": "plan" }, "Nothing to repair: in sync."));
    return;
  }
  const apply = el("button", { type: "button", id: "resync-apply" }, "Apply resync");
  const cancel = el("button", { type: "button" }, "Cancel");
  box.replaceChildren(el("div", { class: "plan" },
    el("p", { "data-role": "plan" }, `Plan (dry run): ${describePlan(dry.plan)}`), apply, cancel));
  cancel.addEventListener("click", () => { box.hidden = true; });
  apply.addEventListener("click", async () => {
    const done = (await gql(Q.resync, { depotId: state.depotId, dryRun: false })).resyncMicrogrid;
    await loadAdmin();
    $("resync-plan").hidden = false;
    $("resync-plan").replaceChildren(el("p", { role: "status", "data-role": "resync-result" },
      done.__typename === "ResyncSuccess"
        ? `Resynced: version ${done.previousVersion} → ${done.microgrid.version}.`
        : `${done.code}: ${done.message}`));
  });
  apply.focus();
}

function renderBindings(microgrid) {
  state.microgridId = microgrid.id;
  const rows = microgrid.controllerBindings.map((b) => {
    const toggle = el("button", { type: "button" }, b.enabled ? "Disable" : "Enable");
    toggle.addEventListener("click", () => toggleBinding(b));
    const edit = el("button", { type: "button" }, "Edit");
    edit.addEventListener("click", () => editBinding(b));
    return el("tr", { "data-binding": b.id },
      el("td", {}, b.device.name), el("td", {}, b.capabilities.join(", ")),
      el("td", {}, b.enabled ? "Enabled" : "Disabled"), el("td", {}, `${b.staleAfterSeconds} s`),
      el("td", {}, b.lastReportedAt ? new Date(b.lastReportedAt).toISOString() : "never"),
      el("td", {}, edit, " ", toggle));
  });
  $("bindings").tBodies[0].replaceChildren(...(rows.length ? rows
    : [el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No controller bindings yet."))]));
  $("binding-device").replaceChildren(...microgrid.depot.devices.map((d) => new Option(d.name, d.id)));
  resetBindingForm();
}

function resetBindingForm() {
  state.editing = null;
  $("binding-form-title").textContent = "New binding";
  $("binding-save").textContent = "Create binding";
  $("binding-cancel").hidden = true;
  $("binding-stale").value = "300";
  for (const box of document.querySelectorAll("input[name=capability]")) box.checked = false;
  clearErrors();
}

function editBinding(binding) {
  state.editing = binding;
  $("binding-form-title").textContent = `Edit binding of ${binding.device.name}`;
  $("binding-save").textContent = "Save binding";
  $("binding-cancel").hidden = false;
  $("binding-device").value = binding.deviceId;
  $("binding-stale").value = String(binding.staleAfterSeconds);
  for (const box of document.querySelectorAll("input[name=capability]")) {
    box.checked = binding.capabilities.includes(box.value);
  }
  clearErrors();
  $("binding-device").focus();
}

function clearErrors() {
  for (const p of document.querySelectorAll("#binding-form .error")) p.textContent = "";
}

async function saveBinding(event) {
  event.preventDefault();
  clearErrors();
  const stale = $("binding-stale").value.trim();
  const input = {
    deviceId: $("binding-device").value,
    capabilities: [...document.querySelectorAll("input[name=capability]:checked")].map((b) => b.value),
    staleAfterSeconds: stale === "" ? null : Number(stale),
  };
  const data = state.editing
    ? await gql(Q.updateBinding + Q.bindingResult, { input: { id: state.editing.id, ...input } })
    : await gql(Q.createBinding + Q.bindingResult, { input: { microgridId: state.microgridId, ...input } });
  showBindingResult(data.result);
}

function showBindingResult(result) {
  if (result.__typename === "ControllerBinding") {
    loadAdmin();
    return;
  }
  if (result.__typename === "ValidationFailed") {
    for (const error of result.fieldErrors) {
      const slot = document.querySelector(`#binding-form .error[data-for="${error.field}"]`)
        || $("binding-form-error");
      slot.textContent = error.message;
    }
  } else {
    $("binding-form-error").textContent = result.message;
  }
}

async function toggleBinding(binding) {
  const data = await gql((binding.enabled ? Q.disableBinding : Q.enableBinding) + Q.bindingResult,
                         { id: binding.id });
  if (data.result.__typename === "ControllerBinding") await loadAdmin();
  else $("binding-form-error").textContent = data.result.message;
}

// ------------------------------------------------------------------ helpers

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function item(text) { return el("li", {}, text); }

function fmt(value, unit) {
  return value === null || value === undefined ? "unknown" : `${Number(value).toLocaleString("en")}${unit}`;
}

function showView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  $("view-card").hidden = view !== "card";
  $("view-admin").hidden = view !== "admin";
  if (view === "admin") loadAdmin().catch(report);
}

function report(error) {
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
    signOut();
    $("sign-in-error").textContent = "Your token is no longer valid; sign in again.";
    return;
  }
  setLive(false, `Error: ${error.message}`);
}

// ------------------------------------------------------------------ wiring

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    await signIn($("token").value.trim());
  } catch (error) {
    state.token = null;
    $("sign-in-error").textContent = error.code === "UNAUTHENTICATED"
      ? "That token is unknown, revoked or expired." : error.message;
  }
});
$("sign-out").addEventListener("click", signOut);
$("depot").addEventListener("change", (event) => selectDepot(event.target.value).catch(report));
for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}
$("resync").addEventListener("click", () => resync().catch(report));
$("binding-form").addEventListener("submit", (event) => saveBinding(event).catch(report));
$("binding-cancel").addEventListener("click", resetBindingForm);
setInterval(tick, 1000);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch(() => signOut());
} else {
  signOut();
}

// Depot Microgrid console. Only the public GraphQL API: queries and mutations
// over HTTP (api.js), the Microgrid card over graphql-transport-ws (live.js).
// This module holds the session, the depot choice, the views and the wiring.

import { ApiError, gql } from "./api.js";
import { loadAdmin, resetBindingForm, resync, saveBinding } from "./admin.js";
import { refreshCard, showCardMessage, tick } from "./card.js";
import { $ } from "./dom.js";
import { loadFlags } from "./flags.js";
import { closeSocket, setLive, subscribe } from "./live.js";
import { refreshChart, resetChart, setUpLoadPage } from "./load-page.js";
import { state } from "./state.js";

const TOKEN_KEY = "mgs.token";

async function signIn(token) {
  state.token = token;
  const { viewer } = await gql("ConsoleViewer");
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
  resetChart();
  Object.assign(state, { token: null, role: null, depotId: null, card: null, flags: null });
  $("session").hidden = true;
  $("workspace").hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
  $("token").focus();
}

async function loadDepots() {
  const { depots } = await gql("ConsoleDepots");
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
  resetChart();
  await Promise.all([refreshCard(), refreshChart()]);
  subscribe();
  if (state.view === "admin") await Promise.all([loadAdmin(), loadFlags()]);
}

function showView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  $("view-card").hidden = view !== "card";
  $("view-admin").hidden = view !== "admin";
  if (view === "admin") Promise.all([loadAdmin(), loadFlags()]).catch(report);
}

function report(error) {
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
    signOut();
    $("sign-in-error").textContent = "Your token is no longer valid; sign in again.";
    return;
  }
  setLive(false, `Error: ${error.message}`);
}

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
setUpLoadPage();
setInterval(tick, 1000);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  signIn(saved).catch(() => signOut());
} else {
  signOut();
}

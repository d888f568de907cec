// Live card updates over graphql-transport-ws. A lost connection (a server
// going away with 1001 or restarting with 1012 during a deploy, or the network)
// is opened again after a random wait below a ceiling that doubles from
// RETRY_FIRST_S to RETRY_MAX_S ("full jitter": the screens of a stopped server
// spread out instead of reconnecting at once); the new subscription's first
// message is the current card, so the screen catches up without a reload.

import { operation } from "./api.js";
import { refreshCard, renderCard } from "./card.js";
import { $ } from "./dom.js";
import { scheduleChartRefresh } from "./load-page.js";
import { state } from "./state.js";

const RETRY_FIRST_S = 0.25;
const RETRY_MAX_S = 10;

export function closeSocket() {
  clearTimeout(state.reconnectTimer);
  if (state.socket) {
    state.socket.onclose = null;
    state.socket.close();
    state.socket = null;
  }
}

export function setLive(up, text) {
  const live = $("live");
  live.className = `live ${up ? "up" : "down"}`;
  live.textContent = text;
}

export function subscribe() {
  closeSocket();
  state.retries = 0;
  setLive(false, "Connecting…");
  open();
}

function open() {
  operation("ConsoleCardUpdates").then(
    (query) => { if (state.token) connect(query); },
    () => { if (state.token) retryLater(); });
}

function retryLater() {
  const ceiling = Math.min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** state.retries);
  state.retries += 1;
  setLive(false, "Reconnecting…");
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(open, Math.random() * ceiling * 1000);
}

function retryable(error) {
  const extensions = (error && error.extensions) || {};
  return extensions.retryable === true || extensions.code === "SUBSCRIBER_TOO_SLOW";
}

function connect(query) {
  closeSocket();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  const socket = new WebSocket(url, "graphql-transport-ws");
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({
    type: "connection_init", payload: { Authorization: `Bearer ${state.token}` } }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      setLive(true, "Live");
      socket.send(JSON.stringify({ id: "card", type: "subscribe", payload: {
        query, variables: { depotId: state.depotId } } }));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload.data) {
      const update = message.payload.data.microgridCard;
      if (update.reason === "SNAPSHOT") state.retries = 0;  // back for good: the next loss waits little
      const previous = state.card ? state.card.revision : null;
      renderCard(update.card);
      scheduleChartRefresh(update.reason);  // new readings or band changes: extend the chart
      if (previous !== null && update.card.revision > previous + 1 && update.reason !== "SNAPSHOT") {
        refreshCard().catch(() => {});  // a revision gap: read the whole card again
      }
    } else if (message.type === "next" || message.type === "error") {
      const errors = (message.type === "error" ? message.payload : message.payload.errors) || [];
      if (errors.some(retryable)) {
        closeSocket();  // the server would serve it later: a database failover, a slow link
        retryLater();
      } else {
        setLive(false, "Live updates unavailable for this depot");
      }
    }
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    if (event.code === 4401 || event.code === 4403) {
      setLive(false, "Not authorised for live updates");
      return;
    }
    state.socket = null;
    retryLater();
  };
}

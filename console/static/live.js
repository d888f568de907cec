// Live card updates over graphql-transport-ws, reconnecting with backoff.

import { operation } from "./api.js";
import { refreshCard, renderCard } from "./card.js";
import { $ } from "./dom.js";
import { scheduleChartRefresh } from "./load-page.js";
import { state } from "./state.js";

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
  setLive(false, "Connecting…");
  operation("ConsoleCardUpdates").then(
    (query) => { if (state.token) connect(query); },
    (error) => setLive(false, `Error: ${error.message}`));
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
      state.backoff = 1;
      setLive(true, "Live");
      socket.send(JSON.stringify({ id: "card", type: "subscribe", payload: {
        query, variables: { depotId: state.depotId } } }));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next" && message.payload.data) {
      const update = message.payload.data.microgridCard;
      const previous = state.card ? state.card.revision : null;
      renderCard(update.card);
      scheduleChartRefresh(update.reason);  // new readings or band changes: extend the chart
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

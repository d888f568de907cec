// What the console knows about the session, the chosen depot and the live connection.

export const state = {
  token: null, role: null, depotId: null, card: null, view: "card", microgridId: null,
  flags: null, socket: null, retries: 0, reconnectTimer: null, editing: null,
};

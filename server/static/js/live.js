// The live connection: Socket.IO with authentication, automatic reconnection, and a clock that
// follows the server's (the branch may run on a manual clock in tests and demos).

import { io } from "/static/vendor/socket.io-client-4.8.4/socket.io.esm.min.js";

/**
 * connectLive({auth, onSnapshot, on: {event: handler}, onStatus, ownEvents})
 * auth: {token} for staff and devices, {ticket} for a phone page, or undefined (session cookie).
 * onSnapshot(snapshot) runs on every connect and reconnect: it is the whole current state.
 * onStatus("online" | "offline" | "refused") tells the page whether it is live.
 * ownEvents: the events a phone page hears about its own ticket (they come through the ticket's own
 * room, and the heartbeat tells their version apart, marked audience "ticket").
 */
export function connectLive({ auth, onSnapshot, on = {}, onStatus = () => {}, ownEvents = [] }) {
  const socket = io({
    auth,
    transports: ["websocket", "polling"],
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  const clock = serverClock();
  // Where the branch's event log stood in the last state or message seen, per audience: the rooms
  // this page is in, and (a phone page) its own ticket's room. Each heartbeat tells one audience's
  // version; a higher one than seen means a message for this page was lost (a message-queue
  // restart, say), so fetch the state. Changes this page never hears do not count.
  const seen = { room: 0, ticket: 0 };
  const audienceOf = (event) => (ownEvents.includes(event) ? "ticket" : "room");
  socket.onAny((event, payload) => {
    if (payload && typeof payload.version === "number" && event !== "heartbeat") {
      const audience = audienceOf(event);
      seen[audience] = Math.max(seen[audience], payload.version);
    }
  });
  socket.on("clock_changed", (change) => {
    if (change && change.now) clock.sync(change.now);
  });
  socket.on("heartbeat", (beat) => {
    if (beat && beat.now) clock.sync(beat.now);
    const audience = beat && beat.audience === "ticket" ? "ticket" : "room";
    if (beat && typeof beat.version === "number" && beat.version > seen[audience]) socket.emit("request_snapshot");
  });
  socket.on("connect", () => onStatus("online"));
  socket.on("disconnect", (reason) => {
    onStatus("offline");
    // The server ended this connection (a log-out, a revoked device, an expired log-in): Socket.IO
    // does not reconnect by itself then. Ask once more: an ended credential is refused, and the page
    // shows its log-in or "pair again"; one still valid comes straight back.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("connect_error", (error) => {
    onStatus(error && error.message === "unauthorized" ? "refused" : "offline");
  });
  socket.on("state_snapshot", (snapshot) => {
    if (snapshot && snapshot.now) clock.sync(snapshot.now);
    if (snapshot && typeof snapshot.version === "number") {
      seen.room = snapshot.version;
      seen.ticket = snapshot.version;
    }
    onSnapshot(snapshot);
  });
  for (const [event, handler] of Object.entries(on)) socket.on(event, handler);
  return {
    socket,
    clock,
    refresh() { socket.emit("request_snapshot"); },
    close() { socket.close(); },
  };
}

/** The server's idea of now, as milliseconds: wall time shifted by the offset last seen. */
export function serverClock() {
  let offset = 0;
  return {
    sync(iso) { offset = new Date(iso).getTime() - Date.now(); },
    now() { return Date.now() + offset; },
    secondsSince(iso) { return iso ? (Date.now() + offset - new Date(iso).getTime()) / 1000 : 0; },
  };
}

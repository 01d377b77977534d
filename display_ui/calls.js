// The lobby display's list of calls, newest first, kept the way the server's snapshot keeps it: one
// row per ticket (a recall moves the ticket's row to the top and marks it, it never adds a second
// row). Pure functions over plain data, so a reconnect can rebuild the list from a snapshot and a
// live event can update it, and both end in the same list.

export const KEPT = 8; // the current call and the seven before it

/** A call as the display keeps it. `lastCalledAt` is the latest time it was called (a recall's time). */
export function fromServer(row) {
  const calledAt = Date.parse(row.called_at) || 0;
  return {
    number: String(row.number),
    counter: row.counter,
    service: row.service ?? null,
    recall: Boolean(row.recall),
    priority: Boolean(row.priority),
    calledAt,
    lastCalledAt: calledAt,
    status: row.status ?? "called",
  };
}

// Numbering starts again every day, so "A012" names one ticket only within a day: two rows are the
// same ticket when their numbers match and they were first called less than 18 hours apart.
const SAME_TICKET_WINDOW_MS = 18 * 3600 * 1000;

function sameTicket(a, b) {
  return a.number === b.number && Math.abs(a.calledAt - b.calledAt) < SAME_TICKET_WINDOW_MS;
}

function newestFirst(a, b) {
  return b.lastCalledAt - a.lastCalledAt || b.calledAt - a.calledAt;
}

/**
 * The list after a `ticket_called` event. Returns {calls, call}: `call` is the row that was called.
 * A recall keeps the ticket's first call time and moves its row to the top.
 */
export function applyCall(calls, event) {
  const incoming = fromServer(event);
  const previous = calls.find((row) => sameTicket(row, incoming));
  let call = incoming;
  if (event.recall && previous) {
    call = {
      ...previous, counter: incoming.counter, recall: true, lastCalledAt: incoming.calledAt,
      priority: previous.priority || incoming.priority,
    };
  } else if (event.recall) {
    call = { ...incoming, recall: true };
  }
  const rest = calls.filter((row) => !sameTicket(row, incoming));
  return { calls: [call, ...rest].sort(newestFirst).slice(0, KEPT), call };
}

/**
 * The list rebuilt from a snapshot's `recent_calls` (the server's truth). What this page heard itself
 * and the snapshot cannot say — when a ticket was last recalled — is kept for rows that are still there.
 */
export function applySnapshot(calls, recentCalls) {
  const rebuilt = (recentCalls || []).map(fromServer).map((row) => {
    const known = calls.find((old) => sameTicket(old, row) && old.calledAt === row.calledAt);
    return known && known.lastCalledAt > row.lastCalledAt ? { ...row, lastCalledAt: known.lastCalledAt } : row;
  });
  return rebuilt.sort(newestFirst).slice(0, KEPT);
}

/**
 * Rows of `after` that `before` did not have, or that have been recalled since, oldest first: what
 * was called while the page was away. Compared by ticket rather than by time, since several calls may
 * share one second (and on a manual clock, one instant).
 */
export function missedCalls(before, after) {
  const missed = after.filter((row) => {
    const old = before.find((known) => sameTicket(known, row) && known.calledAt === row.calledAt);
    return !old || (row.recall && !old.recall) || row.lastCalledAt > old.lastCalledAt;
  });
  return missed.reverse();
}

// The "Instruct…" dialog of a counter tile: the lobby manager asks the teller at one counter to call
// the next customer, end a pause, come to the lobby desk, or reads them a note. The words of each
// instruction come from the branch's vocabulary; the server refuses what cannot apply (ending a
// pause that is not one), and the dialog says so in its own box.

import { api } from "/static/js/api.js";
import { el } from "/static/js/dom.js";

const $ = (id) => document.getElementById(id);

/** Which instructions a tile offers for a counter in this state (serve_ticket comes from a card). */
export function instructionsFor(counter) {
  const kinds = [];
  if (counter.state === "paused") kinds.push("end_pause");
  else kinds.push("call_next");
  kinds.push("come_to_desk", "note");
  return kinds;
}

let current = null; // {counter, onSent, i18n} while the dialog is open

/**
 * Open the dialog for ``counter`` (a counter view). ``who``: its name with the teller's;
 * ``onSent(instruction)`` runs with the server's answer once one is sent.
 */
export function openInstructDialog({ counter, who, i18n, words, token, onSent }) {
  const dialog = $("instruct-dialog");
  bind(dialog);
  current = { counter, onSent, i18n, token };
  $("instruct-title").textContent = i18n.t("instruct_title", { who });
  $("instruct-state").textContent = i18n.t("instruct_state", {
    state: counter.state === "paused" && counter.pause_reason
      ? `${words.label("counter_states", counter.state)} · ${words.label("pause_reasons", counter.pause_reason)}`
      : words.label("counter_states", counter.state),
  });
  $("instruct-text").value = "";
  $("instruct-error").hidden = true;
  const options = instructionsFor(counter).map((kind) => {
    const button = el("button", kind === "note" ? "secondary instruct-option" : "instruct-option",
      words.label("instruction_kinds", kind));
    button.type = "button";
    button.dataset.kind = kind;
    button.addEventListener("click", () => send(kind, button));
    return button;
  });
  $("instruct-options").replaceChildren(...options);
  i18n.apply(dialog);
  dialog.showModal();
  options[0].focus();
}

function bind(dialog) {
  if (dialog.dataset.bound) return;
  dialog.dataset.bound = "1";
  dialog.addEventListener("close", () => { current = null; });
}

async function send(kind, button) {
  if (!current) return;
  const { counter, onSent, i18n, token } = current;
  const text = $("instruct-text").value.trim();
  const error = $("instruct-error");
  if (kind === "note" && !text) {
    error.textContent = i18n.t("instruct_note_needs_text");
    error.hidden = false;
    $("instruct-text").focus();
    return;
  }
  const body = { kind };
  if (text) body.text = text;
  for (const option of $("instruct-options").children) option.disabled = true;
  try {
    const sent = await api(`/counters/${counter.number}/instruct`, { body, token });
    $("instruct-dialog").close();
    onSent(sent);
  } catch (problem) {
    error.textContent = problem.code === "network" ? i18n.t("err_network") : i18n.t("err_generic", { message: problem.message });
    error.hidden = false;
    for (const option of $("instruct-options").children) option.disabled = false;
    button.focus();
  }
}

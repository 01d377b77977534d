// The admin page (/admin): staff accounts, kiosks and displays, and the audit log of what admins did
// (issue 16, finding 3). Everything goes through /api/v1/admin/...; the server refuses what an admin
// may not do (their own account, the last admin) and this page shows its message. Secrets (a new
// password, a device token) are shown once in a dialog and kept nowhere.

import { api } from "/static/js/api.js";
import { el } from "/static/js/dom.js";
import { dateTime } from "/static/js/format.js";
import { createI18n } from "/static/js/i18n.js";
import { MESSAGES } from "./messages.js";

const TOKEN_KEY = "callwise.admin.token"; // sessionStorage: a reload keeps it, closing the tab forgets it
const LANG_KEY = "callwise.admin.lang";
const ROLES = ["teller", "manager", "admin"];
const KINDS = ["kiosk", "display"];
const AUDIT_PAGE = 50;

const $ = (id) => document.getElementById(id);
const state = {
  token: null, me: null, branch: null, staff: [], devices: [], audit: [], auditDone: false, notice: null,
};
let i18n = createI18n(MESSAGES, ["zh", "en"], LANG_KEY);

// --- calls, errors and notices ------------------------------------------------------------------

class SessionEnded extends Error {}

/** An admin API call with the saved token; a 401 means the log-in ended (back to the form). */
async function call(path, options = {}) {
  try {
    return await api(path, { ...options, token: state.token });
  } catch (error) {
    if (error.status === 401) {
      endSession("err_session_ended");
      throw new SessionEnded();
    }
    throw error;
  }
}

function showError(error) {
  if (error instanceof SessionEnded) return;
  const box = $("error");
  box.textContent = error.code === "network" ? i18n.t("err_network") : i18n.t("err_generic", { message: error.message });
  box.hidden = false;
  state.notice = null;
  drawNotice();
}

/** A line saying what was just done, kept so that it follows a change of language. */
function notice(key, params) {
  $("error").hidden = true;
  state.notice = { key, params };
  drawNotice();
}

function drawNotice() {
  const box = $("notice");
  box.hidden = !state.notice;
  if (!state.notice) return;
  const { key, params } = state.notice;
  box.textContent = i18n.t(key, params.role ? { ...params, role: i18n.t(`role_${params.role}`) } : params);
}

// --- log-in ------------------------------------------------------------------------------------------

function showLogin(errorKey) {
  $("view-loading").hidden = true;
  $("view-admin").hidden = true;
  $("who").hidden = $("logout").hidden = true;
  $("view-login").hidden = false;
  const box = $("login-error");
  box.hidden = !errorKey;
  if (errorKey) box.textContent = i18n.t(errorKey);
  $("username").focus();
}

function endSession(errorKey) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.notice = null;
  drawNotice();
  state.token = state.me = null;
  showLogin(errorKey);
}

async function resume() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return false;
  try {
    const me = await api("/auth/me", { token });
    if (me.kind === "staff" && me.role === "admin") {
      state.token = token;
      state.me = me;
      return true;
    }
  } catch (error) {
    if (error.code === "network") throw error;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  return false;
}

function wireLogin() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    const box = $("login-error");
    box.hidden = true;
    if (!username || !password) {
      box.textContent = i18n.t("err_login_missing");
      box.hidden = false;
      return;
    }
    $("login-submit").disabled = true;
    try {
      const result = await api("/auth/login", { body: { username, password } });
      const me = await api("/auth/me", { token: result.token });
      if (me.role !== "admin") {
        await api("/auth/logout", { method: "POST", token: result.token }).catch(() => {});
        box.textContent = i18n.t("err_not_admin");
        box.hidden = false;
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, result.token);
      $("password").value = "";
      state.token = result.token;
      state.me = me;
      await enter();
    } catch (error) {
      box.textContent = error.code === "network" ? i18n.t("err_network")
        : error.status === 401 ? i18n.t("err_login_failed") : i18n.t("err_generic", { message: error.message });
      box.hidden = false;
    } finally {
      $("login-submit").disabled = false;
    }
  });
  $("logout").addEventListener("click", async () => {
    const token = state.token;
    endSession(null);
    if (token) await api("/auth/logout", { method: "POST", token }).catch(() => {});
  });
}

async function enter() {
  $("view-login").hidden = true;
  $("view-loading").hidden = true;
  $("view-admin").hidden = false;
  $("who").textContent = state.me.name;
  $("who").hidden = $("logout").hidden = false;
  await reload();
}

// --- loading and drawing -----------------------------------------------------------------------------

async function reload() {
  try {
    const [staff, devices, audit] = await Promise.all([
      call("/admin/staff"), call("/admin/devices"), call(`/admin/audit?limit=${AUDIT_PAGE}`),
    ]);
    state.staff = staff;
    state.devices = devices;
    state.audit = audit;
    state.auditDone = audit.length < AUDIT_PAGE;
    render();
  } catch (error) {
    showError(error);
  }
}

function render() {
  renderStaff();
  renderDevices();
  renderAudit();
}

const timeZone = () => (state.branch ? state.branch.timezone : undefined);
const seen = (iso) => (iso ? dateTime(iso, timeZone()) : i18n.t("never"));
const branchName = (code) => code || i18n.t("all_branches");

function cell(label, content, className) {
  const td = el("td", className);
  td.dataset.label = label;
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? "";
  return td;
}

/** Usernames stay on one line (cut with … and whole in the tooltip) so a table row reads at a glance. */
function usernameCell(username) {
  const td = cell(i18n.t("col_username"), username, "username mono");
  td.title = username;
  return td;
}

function badge(stateCode) {
  return el("span", `state state-${stateCode}`, i18n.t(`state_${stateCode}`));
}

function actionButton(key, className, onClick) {
  const button = el("button", className, i18n.t(key));
  button.type = "button";
  button.dataset.action = key;
  button.addEventListener("click", onClick);
  return button;
}

function renderStaff() {
  const t = i18n.t;
  const rows = state.staff.map((person) => {
    const tr = el("tr");
    tr.dataset.username = person.username;
    const name = el("span", "name", person.name);
    if (person.id === state.me.id) name.append(el("span", "muted", t("you")));
    if (person.demo) name.append(" ", el("span", "tag", t("demo")));
    const actions = el("div", "row-actions");
    if (person.id !== state.me.id) {
      if (person.state === "active") {
        actions.append(actionButton("disable", "danger small", () => disableStaff(person)));
      } else {
        actions.append(actionButton("enable", "small", () => enableStaff(person)));
      }
      actions.append(actionButton("reset_password", "secondary small", () => resetPassword(person)),
        actionButton("role_change", "secondary small", () => openRoleDialog(person)));
    }
    tr.append(cell(t("col_name"), name, "wrap"), usernameCell(person.username),
      cell(t("col_role"), t(`role_${person.role}`)), cell(t("col_branch"), branchName(person.branch)),
      cell(t("col_state"), badge(person.state)), cell(t("col_last_seen"), seen(person.last_seen_at), "nowrap"),
      cell(t("col_actions"), actions, "actions"));
    return tr;
  });
  $("staff-rows").replaceChildren(...rows);
  $("staff-empty").hidden = rows.length > 0;
  $("staff-table").hidden = rows.length === 0;
}

function renderDevices() {
  const t = i18n.t;
  const rows = state.devices.map((device) => {
    const tr = el("tr");
    tr.dataset.device = device.name;
    const name = el("span", "name", device.name);
    if (device.demo) name.append(" ", el("span", "tag", t("demo")));
    const actions = el("div", "row-actions");
    if (device.state === "active") actions.append(actionButton("revoke", "danger small", () => revokeDevice(device)));
    else actions.append(actionButton("re_pair", "secondary small", () => repairDevice(device)));
    tr.append(cell(t("col_device"), name, "wrap"), cell(t("col_kind"), t(`kind_${device.kind}`)),
      cell(t("col_branch"), branchName(device.branch)), cell(t("col_state"), badge(device.state)),
      cell(t("col_last_seen"), seen(device.last_seen_at), "nowrap"), cell(t("col_actions"), actions, "actions"));
    return tr;
  });
  $("device-rows").replaceChildren(...rows);
  $("devices-empty").hidden = rows.length > 0;
  $("device-table").hidden = rows.length === 0;
}

function auditTarget(entry) {
  const t = i18n.t;
  let text = entry.target;
  if (entry.action === "role_changed" && Array.isArray(entry.detail.role)) {
    text += ` (${entry.detail.role.map((role) => t(`role_${role}`)).join(" → ")})`;
  } else if (entry.detail.kind) {
    text += ` (${t(`kind_${entry.detail.kind}`)})`;
  }
  return text;
}

function renderAudit() {
  const t = i18n.t;
  const rows = state.audit.map((entry) => {
    const tr = el("tr");
    tr.dataset.action = entry.action;
    const who = entry.via === "cli" ? `${entry.actor} · ${t("via_cli")}` : entry.actor;
    tr.append(cell(t("col_when"), dateTime(entry.at, timeZone()), "nowrap"), cell(t("col_who"), who, "wrap"),
      cell(t("col_action"), t(`action_${entry.action}`)), cell(t("col_target"), auditTarget(entry), "wrap"));
    return tr;
  });
  $("audit-rows").replaceChildren(...rows);
  $("audit-empty").hidden = rows.length > 0;
  $("audit-table").hidden = rows.length === 0;
  $("audit-more").hidden = state.auditDone;
}

async function moreAudit() {
  const last = state.audit[state.audit.length - 1];
  try {
    const page = await call(`/admin/audit?limit=${AUDIT_PAGE}&before=${last.id}`);
    state.audit = state.audit.concat(page);
    state.auditDone = page.length < AUDIT_PAGE;
    renderAudit();
  } catch (error) {
    showError(error);
  }
}

// --- dialogs --------------------------------------------------------------------------------------

/** Ask before a change; resolves true when the admin confirms. */
function confirmAction(titleKey, textKey, okKey, params) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = i18n.t(titleKey, params);
  $("confirm-text").textContent = i18n.t(textKey, params);
  $("confirm-ok").textContent = i18n.t(okKey);
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

function showPassword(person, password) {
  $("secret-title").textContent = i18n.t("password_title", { name: person.name });
  $("password-for").textContent = i18n.t("password_for", { username: person.username });
  $("password-value").textContent = password;
  $("password-box").hidden = false;
  $("pairing").hidden = true;
  openSecret();
}

function showPairing(answer) {
  $("secret-title").textContent = i18n.t("pairing_title", { name: answer.device.name });
  $("pairing-qr").src = answer.qr_svg;
  $("pairing-qr").alt = i18n.t("pairing_qr", { name: answer.device.name });
  $("pairing-url").textContent = answer.pairing_url;
  $("pairing").hidden = false;
  $("password-box").hidden = true;
  openSecret();
}

function openSecret() {
  const dialog = $("secret-dialog");
  dialog.addEventListener("close", () => {
    // Forget the secret as soon as the dialog closes.
    $("password-value").textContent = "";
    $("pairing-url").textContent = "";
    $("pairing-qr").removeAttribute("src");
  }, { once: true });
  dialog.showModal();
  $("secret-done").focus();
}

function fillSelect(select, options, chosen) {
  select.replaceChildren(...options.map(([value, label]) => {
    const option = el("option", null, label);
    option.value = value;
    option.selected = value === chosen;
    return option;
  }));
}

function branchCodes() {
  const codes = new Set(state.branch ? [state.branch.code] : []);
  for (const row of [...state.staff, ...state.devices]) if (row.branch) codes.add(row.branch);
  return [...codes].sort();
}

function formError(id, error) {
  if (error instanceof SessionEnded) return;
  const box = $(id);
  box.textContent = error.code === "network" ? i18n.t("err_network") : error.message;
  box.hidden = false;
}

/** A dialog form: open it, and on submit run ``send``; it closes when ``send`` succeeds. */
function wireDialog(dialogId, formId, errorId, send) {
  const dialog = $(dialogId);
  for (const button of dialog.querySelectorAll("[data-close]")) button.addEventListener("click", () => dialog.close());
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    $(errorId).hidden = true;
    const submit = $(formId).querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await send();
      dialog.close();
    } catch (error) {
      formError(errorId, error);
    } finally {
      submit.disabled = false;
    }
  });
}

function followRole(roleId, branchId) {
  $(branchId).disabled = $(roleId).value === "admin";
}

function openStaffDialog() {
  $("staff-form").reset();
  $("staff-form-error").hidden = true;
  fillSelect($("new-role"), ROLES.map((role) => [role, i18n.t(`role_${role}`)]), "teller");
  fillSelect($("new-branch"), branchCodes().map((code) => [code, code]), state.branch && state.branch.code);
  followRole("new-role", "new-branch");
  $("staff-dialog").showModal();
  $("new-username").focus();
}

let roleTarget = null;

function openRoleDialog(person) {
  roleTarget = person;
  $("role-form-error").hidden = true;
  $("role-target").textContent = `${person.name} (${person.username})`;
  fillSelect($("role-select"), ROLES.map((role) => [role, i18n.t(`role_${role}`)]), person.role);
  fillSelect($("role-branch"), branchCodes().map((code) => [code, code]),
    person.branch || (state.branch && state.branch.code));
  followRole("role-select", "role-branch");
  $("role-dialog").showModal();
  $("role-select").focus();
}

function openDeviceDialog() {
  $("device-form").reset();
  $("device-form-error").hidden = true;
  fillSelect($("new-device-kind"), KINDS.map((kind) => [kind, i18n.t(`kind_${kind}`)]), "kiosk");
  fillSelect($("new-device-branch"), branchCodes().map((code) => [code, code]), state.branch && state.branch.code);
  $("device-dialog").showModal();
  $("new-device-name").focus();
}

// --- actions ------------------------------------------------------------------------------------------

async function act(work) {
  try {
    await work();
  } catch (error) {
    showError(error);
  }
  await reload();
}

function disableStaff(person) {
  return confirmAction("confirm_disable_title", "confirm_disable_text", "disable", { name: person.name })
    .then((yes) => yes && act(async () => {
      await call(`/admin/staff/${person.id}/disable`, { method: "POST" });
      notice("done_disabled", { name: person.name });
    }));
}

function enableStaff(person) {
  return confirmAction("confirm_enable_title", "confirm_enable_text", "enable", { name: person.name })
    .then((yes) => yes && act(async () => {
      await call(`/admin/staff/${person.id}/enable`, { method: "POST" });
      notice("done_enabled", { name: person.name });
    }));
}

function resetPassword(person) {
  return confirmAction("confirm_reset_title", "confirm_reset_text", "reset_password", { name: person.name })
    .then((yes) => yes && act(async () => {
      const answer = await call(`/admin/staff/${person.id}/password`, { method: "POST" });
      showPassword(answer.staff, answer.password);
    }));
}

function revokeDevice(device) {
  return confirmAction("confirm_revoke_title", "confirm_revoke_text", "revoke", { name: device.name })
    .then((yes) => yes && act(async () => {
      await call(`/admin/devices/${device.id}/revoke`, { method: "POST" });
      notice("done_revoked", { name: device.name });
    }));
}

function repairDevice(device) {
  return confirmAction("confirm_repair_title", "confirm_repair_text", "re_pair", { name: device.name })
    .then((yes) => yes && act(async () => {
      const answer = await call("/admin/devices", { body: { name: device.name, kind: device.kind,
                                                                branch: device.branch } });
      showPairing(answer);
    }));
}

function wireActions() {
  $("staff-add").addEventListener("click", openStaffDialog);
  $("device-add").addEventListener("click", openDeviceDialog);
  $("audit-more").addEventListener("click", moreAudit);
  wireDialog("staff-dialog", "staff-form", "staff-form-error", async () => {
    const role = $("new-role").value;
    const body = { username: $("new-username").value.trim(), role };
    if ($("new-name").value.trim()) body.name = $("new-name").value.trim();
    if (role !== "admin" && $("new-branch").value) body.branch = $("new-branch").value;
    const answer = await call("/admin/staff", { body });
    $("staff-dialog").close();
    showPassword(answer.staff, answer.password);
    await reload();
  });
  wireDialog("role-dialog", "role-form", "role-form-error", async () => {
    const role = $("role-select").value;
    const body = { role };
    if (role !== "admin" && $("role-branch").value) body.branch = $("role-branch").value;
    const row = await call(`/admin/staff/${roleTarget.id}/role`, { body });
    notice("done_role", { name: row.name, role: row.role });
    await reload();
  });
  wireDialog("device-dialog", "device-form", "device-form-error", async () => {
    const body = { name: $("new-device-name").value.trim(), kind: $("new-device-kind").value };
    if ($("new-device-branch").value) body.branch = $("new-device-branch").value;
    const answer = await call("/admin/devices", { body });
    $("device-dialog").close();
    showPairing(answer);
    await reload();
  });
  // A branch means nothing for an admin (of every branch): its choice is greyed out.
  for (const [role, branch] of [["new-role", "new-branch"], ["role-select", "role-branch"]]) {
    $(role).addEventListener("change", () => followRole(role, branch));
  }
}

// --- start ------------------------------------------------------------------------------------------

function wireLanguage() {
  const toggle = $("lang-toggle");
  const label = () => {
    toggle.textContent = i18n.t("lang_other");
    toggle.lang = i18n.lang === "zh" ? "en" : "zh-CN";
  };
  toggle.addEventListener("click", () => {
    const others = i18n.languages.filter((lang) => lang !== i18n.lang);
    i18n.setLang(others[0] || i18n.lang);
  });
  i18n.onChange(() => {
    label();
    drawNotice();
    if (state.me) render();
  });
  label();
  toggle.hidden = i18n.languages.length < 2;
}

async function start() {
  try {
    state.branch = await api("/branch");
    const languages = state.branch.languages.filter((lang) => lang === "zh" || lang === "en");
    i18n = createI18n(MESSAGES, languages.length ? languages : ["zh", "en"], LANG_KEY);
  } catch (error) {
    showError(error);
  }
  i18n.apply();
  wireLanguage();
  wireLogin();
  wireActions();
  let resumed = false;
  try {
    resumed = await resume();
  } catch (error) {
    showError(error);
  }
  if (resumed) await enter();
  else showLogin(null);
}

start();

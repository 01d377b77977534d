// The manager's log-in, shared by the dashboard and the report page. The token lives in
// sessionStorage: a reload keeps it, closing the tab forgets it. Logging in also sets the session
// cookie, which is what lets the plain CSV download link authenticate: a browser-session cookie (no
// expiry date), so closing the browser forgets it too, and the server ends it after
// token_lifetime_hours in any case; logging out ends both at once.

import { api, ApiError } from "/static/js/api.js";
import { createI18n } from "/static/js/i18n.js";
import { MESSAGES } from "./messages.js";

const TOKEN_KEY = "callwise.manager.token";
const LANG_KEY = "callwise.manager.lang";
const ROLES = ["manager", "admin"];

/** The saved token and who it belongs to, or null (no token, expired, or not a manager). */
export async function resumeSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const me = await api("/auth/me", { token });
    if (me.kind === "staff" && ROLES.includes(me.role)) return { token, me };
  } catch (error) {
    if (!(error instanceof ApiError) || error.code === "network") throw error;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  return null;
}

/** The log-in form, built into the page's empty login section (both manager pages share it). */
function buildLoginForm(section) {
  const make = (tag, attributes = {}) => {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  };
  const form = make("form", { class: "card login-card", id: "login-form", novalidate: "" });
  form.append(
    make("h1", { id: "login-title", "data-i18n": "login_title" }),
    make("p", { class: "muted", "data-i18n": "login_hint" }),
    make("label", { for: "username", "data-i18n": "username" }),
    make("input", { id: "username", name: "username", autocomplete: "username", autocapitalize: "none",
                    spellcheck: "false", required: "" }),
    make("label", { for: "password", "data-i18n": "password" }),
    make("input", { id: "password", name: "password", type: "password", autocomplete: "current-password",
                    required: "" }),
    make("p", { class: "banner error", id: "login-error", role: "alert", hidden: "" }),
    make("button", { type: "submit", id: "login-submit", "data-i18n": "log_in" }),
  );
  section.replaceChildren(form);
  return form;
}

/**
 * Sign in on a manager page: build the log-in form into ``section``, resume a saved session if
 * there is one, else show the form. onLoggedIn({token, me}) runs once a manager or admin is in;
 * onError(text) shows a problem in the page's error banner; onLoginShown() hides the page's views.
 */
export async function signIn({ section, i18n, onLoggedIn, onLoginShown = () => {}, onError }) {
  const form = buildLoginForm(section);
  i18n.apply(section);
  const field = (id) => form.querySelector(`#${id}`);
  wireLoginForm({
    form, username: field("username"), password: field("password"), submit: field("login-submit"),
    errorBox: field("login-error"), i18n, onLoggedIn,
  });
  let session = null;
  try {
    session = await resumeSession();
  } catch (error) {
    onError(i18n.t("err_network"));
  }
  if (session) {
    onLoggedIn(session);
    return;
  }
  onLoginShown();
  section.hidden = false;
  field("username").focus();
}

/** Wire a log-in form. onLoggedIn({token, me}) runs once a manager or admin is in. */
function wireLoginForm({ form, username, password, submit, errorBox, i18n, onLoggedIn }) {
  const showError = (key, params = {}) => {
    errorBox.textContent = i18n.t(key, params);
    errorBox.hidden = false;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const name = username.value.trim();
    if (!name || !password.value) {
      showError("err_login_missing");
      return;
    }
    submit.disabled = true;
    try {
      const result = await api("/auth/login", { body: { username: name, password: password.value } });
      const me = await api("/auth/me", { token: result.token });
      if (!ROLES.includes(me.role)) {
        await api("/auth/logout", { method: "POST", token: result.token }).catch(() => {});
        showError("err_not_manager");
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, result.token);
      password.value = "";
      onLoggedIn({ token: result.token, me });
    } catch (error) {
      if (error.code === "network") showError("err_network");
      else if (error.status === 401) showError("err_login_failed");
      else showError("err_generic", { message: error.message });
    } finally {
      submit.disabled = false;
    }
  });
}

/** End the log-in on the server (best effort) and forget the token. */
export async function logOut(token) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (token) await api("/auth/logout", { method: "POST", token }).catch(() => {});
}

/** The language switch in the top bar: shows the other language's name. */
export function wireLanguageToggle(button, i18n) {
  const label = () => {
    button.textContent = i18n.t("lang_other");
    button.lang = i18n.lang === "zh" ? "en" : "zh";
  };
  button.addEventListener("click", () => {
    const others = i18n.languages.filter((lang) => lang !== i18n.lang);
    i18n.setLang(others[0] || i18n.lang);
  });
  i18n.onChange(label);
  label();
}

/**
 * What both manager pages do first: read the branch (its languages, time zone and vocabulary), set
 * up the two languages and the toggle in the top bar. Returns {branch, i18n}; branch is null when
 * the server could not be reached (onError says so).
 */
export async function startPage({ toggle, onError }) {
  let branch = null;
  let i18n = createI18n(MESSAGES, ["zh", "en"], LANG_KEY);
  try {
    branch = await api("/branch");
    i18n = createI18n(MESSAGES, branch.languages, LANG_KEY);
  } catch (error) {
    onError(i18n.t("err_network"));
  }
  i18n.apply();
  wireLanguageToggle(toggle, i18n);
  toggle.hidden = i18n.languages.length < 2;
  return { branch, i18n };
}

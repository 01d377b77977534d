// The manager's log-in, shared by the dashboard and the report page. The token lives in
// sessionStorage: a reload keeps it, closing the tab forgets it. Logging in also sets the session
// cookie, which is what lets the plain CSV download link authenticate.

import { api, ApiError } from "/static/js/api.js";

const TOKEN_KEY = "callwise.manager.token";
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

/** Wire a log-in form. onLoggedIn({token, me}) runs once a manager or admin is in. */
export function wireLoginForm({ form, username, password, submit, errorBox, i18n, onLoggedIn }) {
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

// Two languages, one switch. Texts from the server come as {zh: "...", en: "..."}; texts of the
// page itself come from a messages table {key: {zh, en}}. Elements with data-i18n="key" are
// filled by apply(); everything else is filled by the page with t() and pick().

export function createI18n(messages, languages = ["zh", "en"], storageKey = null) {
  let current = languages[0];
  if (storageKey) {
    const saved = localStorage.getItem(storageKey);
    if (saved && languages.includes(saved)) current = saved;
  }
  const listeners = [];

  function pick(text, lang = current) {
    if (text == null) return "";
    if (typeof text === "string") return text;
    return text[lang] ?? text[languages[0]] ?? Object.values(text)[0] ?? "";
  }

  function t(key, params = {}, lang = current) {
    const entry = messages[key];
    let text = entry ? pick(entry, lang) : key;
    for (const [name, value] of Object.entries(params)) text = text.replaceAll(`{${name}}`, String(value));
    return text;
  }

  function apply(root = document) {
    document.documentElement.lang = current === "zh" ? "zh-CN" : current;
    for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
    for (const element of root.querySelectorAll("[data-i18n-label]")) {
      element.setAttribute("aria-label", t(element.dataset.i18nLabel));
    }
    for (const element of root.querySelectorAll("[data-i18n-title]")) element.title = t(element.dataset.i18nTitle);
  }

  function setLang(lang) {
    if (!languages.includes(lang)) return;
    current = lang;
    if (storageKey) localStorage.setItem(storageKey, lang);
    apply();
    for (const listener of listeners) listener(lang);
  }

  /** The language after the current one: what a one-tap language toggle switches to. */
  function next() {
    return languages[(languages.indexOf(current) + 1) % languages.length];
  }

  /** Label a toggle button with the language it switches to ("switch_to", "switch_label" messages). */
  function labelToggle(toggle) {
    const lang = next();
    toggle.textContent = t("switch_to");
    toggle.lang = lang === "zh" ? "zh-CN" : lang;
    toggle.setAttribute("aria-label", t("switch_label"));
  }

  return {
    t, pick, apply, setLang, languages, next, labelToggle,
    get lang() { return current; },
    onChange(listener) { listeners.push(listener); },
  };
}

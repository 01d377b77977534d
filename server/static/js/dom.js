// Small DOM helpers the pages share. Text always goes in as textContent, never as HTML.

/** An element with a class and text (either may be omitted). */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

/** A choice in a dialog picked by a digit: its label and the key that picks it (`<kbd>`). */
export function keyedOption(label, key, { type = "button", className = "chooser-option" } = {}) {
  const button = el("button", className);
  button.type = type;
  button.dataset.key = key;
  button.setAttribute("aria-keyshortcuts", key);
  button.append(el("span", null, label), el("kbd", null, key));
  return button;
}

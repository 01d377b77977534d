// Small DOM helpers the pages share. Text always goes in as textContent, never as HTML.

/** An element with a class and text (either may be omitted). */
export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined && text !== null) element.textContent = text;
  return element;
}

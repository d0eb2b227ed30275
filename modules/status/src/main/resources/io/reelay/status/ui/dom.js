// Small DOM helpers. Text goes in as text nodes, never as HTML.

export const $ = id => document.getElementById(id);

/** An element with a class and children (strings become text nodes). */
export function el(tag, className, ...children) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  e.append(...children);
  return e;
}

export function shorten(s, n) {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** Shows {text} in {element}, or hides it when there is none. */
export function say(element, text) {
  element.textContent = text || '';
  element.hidden = !text;
}

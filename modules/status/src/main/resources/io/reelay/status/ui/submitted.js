// What this browser submitted: the API's statuses do not carry a request's text or action, so the
// page keeps them (the last 200) in localStorage to show them in the list.

const STORAGE = 'reelay.submitted';
const KEPT = 200;

let known = null;

function all() {
  if (known === null) {
    try { known = JSON.parse(localStorage.getItem(STORAGE) || '{}') || {}; } catch { known = {}; }
  }
  return known;
}

export function remember(id, text, action) {
  const k = all();
  k[id] = { text, action, at: Date.now() };
  const ids = Object.keys(k).sort((a, b) => k[b].at - k[a].at);
  for (const old of ids.slice(KEPT)) delete k[old];
  try { localStorage.setItem(STORAGE, JSON.stringify(k)); } catch { /* full or private mode: this page only */ }
}

/** {text, action, at} of a request submitted from this browser, or null. */
export function submittedHere(id) {
  return all()[id] || null;
}

// The widget's JavaScript API, shared by the npm entry (index.js) and the
// script-tag loader (oculto.js). It only translates relaxed options into the
// strict ones the Rust widget takes, keeps the id -> widget registry and wires
// callbacks to the widget's DOM events; everything else happens in Rust.
import init, { Widget } from './oculto_widget.js';

const widgets = new Map();
let nextId = 1;
let settings = { verifier: '', createWorker: null, wasm: undefined };
let loading = null;

/** Sets where the verifier is and how to start a proof-of-work worker. */
export function configure(s) {
  settings = { ...settings, ...s };
}

/** Resolves once the wasm module is loaded. */
export function ready() {
  if (!loading) loading = init(settings.wasm === undefined ? undefined : { module_or_path: settings.wasm });
  return loading;
}

const CALLBACKS = {
  callback: 'oculto:verified',
  'expired-callback': 'oculto:expired',
  'error-callback': 'oculto:error',
};

function camel(key) {
  return key.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

function resolveFn(v) {
  if (typeof v === 'function') return v;
  if (typeof v === 'string' && typeof globalThis[v] === 'function') return globalThis[v];
  return null;
}

/** Reads an element's data-* attributes as options. */
export function optionsFromElement(el) {
  const o = {};
  for (const [k, v] of Object.entries(el.dataset)) o[k] = v;
  return o;
}

function strictOptions(opts) {
  const o = {};
  for (const [k, v] of Object.entries(opts || {})) o[camel(k)] = v;
  return {
    sitekey: String(o.sitekey || o.siteKey || ''),
    verifier: String(o.verifier || settings.verifier || ''),
    theme: ['light', 'dark', 'auto'].includes(o.theme) ? o.theme : 'auto',
    language: o.language ? String(o.language) : '',
    action: o.action ? String(o.action) : undefined,
    cdata: o.cdata ? String(o.cdata) : undefined,
    size: ['normal', 'compact', 'invisible'].includes(o.size) ? o.size : 'normal',
    execution: o.execution === 'execute' ? 'execute' : 'render',
    responseFieldName: o.responseFieldName ? String(o.responseFieldName) : '_co_verdict',
    responseField: o.responseField !== false && o.responseField !== 'false',
    refreshExpired: o.refreshExpired === 'manual' ? 'manual' : 'auto',
    budgetMs: Number(o.budgetMs) > 0 ? Number(o.budgetMs) : 2000,
  };
}

function lookup(id) {
  if (id === undefined) return widgets.values().next().value;
  if (typeof id === 'object' && id !== null) {
    for (const w of widgets.values()) if (w.el === id) return w;
    return undefined;
  }
  return widgets.get(id);
}

/**
 * Renders a widget in `el` (an element or a selector) and returns its id.
 * Options: sitekey, verifier, callback, expired-callback, error-callback,
 * theme, language, action, cdata, size, execution, response-field-name.
 */
export async function render(el, options = {}) {
  const host = typeof el === 'string' ? document.querySelector(el) : el;
  if (!host) throw new Error('oculto: no element to render into');
  await ready();
  const existing = lookup(host);
  if (existing) return existing.id;
  const merged = { ...optionsFromElement(host), ...options };
  const widget = new Widget(host, strictOptions(merged), settings.createWorker || undefined);
  const id = nextId++;
  const listeners = [];
  for (const [opt, event] of Object.entries(CALLBACKS)) {
    const fn = resolveFn(merged[opt] ?? merged[camel(opt)]);
    if (fn) {
      const l = (e) => fn(e.detail ?? undefined);
      host.addEventListener(event, l);
      listeners.push([event, l]);
    }
  }
  widgets.set(id, { id, el: host, widget, listeners });
  return id;
}

/** Forgets the token and makes a new one. */
export function reset(id) {
  lookup(id)?.widget.reset();
}

/** The current token, or undefined. */
export function getResponse(id) {
  return lookup(id)?.widget.getResponse() ?? undefined;
}

/** Gets a fresh token (making one if needed); resolves with it. */
export function execute(id) {
  const w = lookup(id);
  if (!w) return Promise.reject(new Error('oculto: no such widget'));
  return w.widget.execute();
}

/** Whether the widget has no usable token now. */
export function isExpired(id) {
  const w = lookup(id);
  return !w || !w.widget.getResponse();
}

/** Takes a widget off the page. */
export function remove(id) {
  const w = lookup(id);
  if (!w) return;
  for (const [event, l] of w.listeners) w.el.removeEventListener(event, l);
  widgets.delete(w.id);
  w.widget.remove();
}

/** Renders every `.oculto` element not rendered yet. */
export async function renderAll(root = document) {
  const ids = [];
  for (const el of root.querySelectorAll('.oculto')) {
    if (!lookup(el)) ids.push(await render(el));
  }
  return ids;
}

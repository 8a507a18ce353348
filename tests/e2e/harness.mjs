// Helpers for Oculto's browser end-to-end tests: a real `oculto` verifier, a
// site's pages served from another origin (cross-origin, as in production),
// Debian's Chromium driven by playwright-core, and input that moves, clicks
// and types like a person.
//
// # Brief overview
//
// - `ocultoBin()` finds (and, unless `OCULTO_BIN` is set, builds once per
//   process) the `oculto` binary; `requireWidget()` checks that the widget
//   was built into `pkg/` (`scripts/build-widget.sh`): cases never rebuild it.
// - `Verifier` owns one `oculto serve` process on a free port with a fresh
//   SQLite database in a temporary folder, generous rate limits and the
//   default proof of work (difficulty 18). `addSite()` registers a site with
//   `oculto site add`, as an operator would (`stepUp` sets its step-up
//   policy); `verify()` is the site backend's `/verify` call; `query()` reads
//   its SQLite store with the `sqlite3` command (a step-up's answer, say).
// - `SiteServer` is the site: a small node HTTP server on another port that
//   serves a case folder (`__VERIFIER__`, `__SITE_KEY__`... filled in), sets
//   the response headers a case asks for (a CSP, say), records every POST
//   (forms, CSP reports) and answers the backend routes a case defines.
// - `launch()` starts Chromium; `human: true` (the default) hides
//   `navigator.webdriver` and `HeadlessChrome`, as a person's browser has
//   them, while `human: false` is plain headless automation. `open()` makes a page with bookkeeping
//   (`record()`): the widget's events, CSP violations, long tasks and the
//   first trusted interaction; `problems()` lists its console and HTTP errors.
// - `Person` moves the mouse in minimum-jerk reaches with a correction, rests
//   before a press, clicks with a dwell and types with uneven delays, from a
//   seeded random source so runs repeat.
// - `widgetState()` reads the widget's shadow root: label, status, checkbox,
//   retry button, and the hidden field's value.
//
// Everything listens on, and talks to, 127.0.0.1 only.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

/** The repository's root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The Chromium binary (Debian's `chromium` package unless `CHROMIUM` says otherwise). */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Flags for Chromium here: headless, no sandbox (containers), no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** How long helpers wait for a verifier to start or a widget to get somewhere, ms. */
export const PATIENCE_MS = 20_000;

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let builtBin = null;

/**
 * The `oculto` binary the tests run: `OCULTO_BIN` when set (run.mjs and
 * `make e2e` set it after building once), else `target/debug/oculto`, built with cargo once per
 * process so a stale binary never tests old code (a no-op when fresh).
 */
export function ocultoBin() {
  if (process.env.OCULTO_BIN) return process.env.OCULTO_BIN;
  if (builtBin) return builtBin;
  const r = spawnSync('cargo', ['build', '--quiet', '-p', 'oculto-verifier', '--bin', 'oculto'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error('cargo build -p oculto-verifier failed');
  builtBin = path.join(ROOT, 'target/debug/oculto');
  return builtBin;
}

/**
 * Throws unless the widget is built: `pkg/` for npm and `pkg/dist/` for the
 * verifier's `/widget/`. The suite builds it once (`make e2e`), never per case.
 */
export function requireWidget() {
  for (const f of ['pkg/index.js', 'pkg/oculto_widget_bg.wasm', 'pkg/dist/oculto.js', 'pkg/dist/manifest.json']) {
    if (!fs.existsSync(path.join(ROOT, f))) {
      throw new Error(`${f} is missing: build the widget first (scripts/build-widget.sh, or make e2e)`);
    }
  }
}

/** A fresh temporary folder; the caller removes it. */
export function tempDir(prefix = 'oculto-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Settings every test verifier gets: rate limits no test run reaches, and a
 * quiet log. The proof of work keeps its default difficulty (18), the one
 * people meet; the token lifetime its default (300 s).
 */
export const TEST_ENV = {
  OCULTO_RATE_LIMIT__INIT_PER_MIN: '1000',
  OCULTO_RATE_LIMIT__SCORE_PER_MIN: '1000',
  OCULTO_RATE_LIMIT__SOFT_PER_MIN: '1000',
  OCULTO_RATE_LIMIT__SITE_SOFT_PER_MIN: '10000',
  OCULTO_LOG: 'warn',
};

/**
 * The environment for `oculto` processes: ours, less `OCULTO_BIN` (the
 * verifier refuses unknown `OCULTO_*` settings), plus `TEST_ENV` and `extra`.
 */
function ocultoEnv(extra = {}) {
  const env = { ...process.env, ...TEST_ENV, ...extra };
  delete env.OCULTO_BIN;
  return env;
}

/** Verifiers still running, killed (and their folders removed) if the process exits early. */
const live = new Set();
process.on('exit', () => {
  for (const v of live) {
    v.proc.kill('SIGKILL');
    if (v.ownsDir) fs.rmSync(v.dir, { recursive: true, force: true });
  }
});

/**
 * The threshold of sites in the cases about tokens rather than scores
 * (renewal, reset, expiry, CSP, packaging, an unreachable verifier): they
 * check that a token made by the widget verifies, and the scripted Person's
 * mouse, which the behaviour model may rightly find bot-like, must not
 * decide them. The cases about scores (demo-form, headless-bot, step-up)
 * keep the default 50.
 */
export const TOKEN_CASE_THRESHOLD = 90;

/** One `oculto serve` process and its database. */
export class Verifier {
  /**
   * Starts a verifier on 127.0.0.1. Options: `env` (extra `OCULTO_*`
   * settings), `demo` (serve the www demo), `port` (default: any free one),
   * `dir` (reuse another verifier's folder, hence its sites and keys).
   */
  static async start({ env = {}, demo = false, port = 0, dir } = {}) {
    const v = new Verifier();
    v.ownsDir = !dir;
    v.dir = dir || tempDir('oculto-e2e-verifier-');
    v.store = `sqlite://${path.join(v.dir, 'oculto.db')}`;
    const args = ['serve', '--addr', `127.0.0.1:${port}`, '--store', v.store];
    if (demo) args.push('--demo');
    v.log = '';
    v.proc = spawn(ocultoBin(), args, {
      cwd: ROOT,
      env: ocultoEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    v.proc.stderr.on('data', (d) => (v.log += d));
    live.add(v);
    v.exited = once(v.proc, 'exit').then(() => live.delete(v));
    const url = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`verifier did not start:\n${v.log}`)), PATIENCE_MS);
      v.proc.stdout.on('data', (d) => {
        out += d;
        const m = /oculto listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      v.proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`verifier exited (${code}) before listening:\n${v.log}`));
      });
    });
    v.url = url;
    v.port = Number(new URL(url).port);
    return v;
  }

  /**
   * Registers a site for `origin` with `oculto site add --json` and waits
   * until the running verifier knows it. Returns `{site_key, api_key}`.
   * `stepUp` (`always`, `suspicious`, `never`) is its step-up policy;
   * `never` when not given: the test Person drives the mouse with scripted
   * curves, which the behaviour model rightly finds suspicious, and only
   * the step-up tests are about challenges. `threshold` is the highest
   * valid score (50 when not given).
   */
  async addSite(origin, name = 'e2e', { stepUp = 'never', threshold = 50 } = {}) {
    const args = ['site', 'add', '--name', name, '--origin', origin, '--json', '--store', this.store];
    args.push('--step-up', stepUp, '--threshold', String(threshold));
    const r = spawnSync(ocultoBin(), args, {
      cwd: ROOT,
      env: ocultoEnv(),
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`oculto site add failed: ${r.stderr}`);
    const site = JSON.parse(r.stdout);
    // The verifier reloads sites every second: a known API key with a bad
    // token is 400 invalid_token, an unknown one 401.
    const deadline = Date.now() + PATIENCE_MS;
    while ((await this.verify('x', site.api_key)).status === 401) {
      if (Date.now() > deadline) throw new Error('the verifier never saw the new site');
      await sleep(100);
    }
    return site;
  }

  /** The backend's `POST /verify`; resolves with `{status, body}` whatever the status. */
  async verify(token, apiKey) {
    const res = await fetch(`${this.url}/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, api_key: apiKey }),
    });
    return { status: res.status, body: await res.json() };
  }

  /**
   * Runs `sql` on the verifier's SQLite store with the `sqlite3` command
   * (`scripts/deps.sh browser` installs it) and returns the rows as
   * objects. Read-only use: the verifier is the one writer.
   */
  query(sql) {
    const r = spawnSync('sqlite3', ['-json', '-readonly', path.join(this.dir, 'oculto.db'), sql], { encoding: 'utf8' });
    if (r.error) throw new Error(`sqlite3: ${r.error.message} (scripts/deps.sh browser installs it)`);
    if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : [];
  }

  /** Stops the process (SIGKILL when `hard`, else SIGTERM) and waits for it. */
  async stop({ hard = false } = {}) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await this.exited;
  }

  /** Stops the process and removes its folder, unless another verifier shares it. */
  async close() {
    await this.stop();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

/** A recorded request to the site. */
class Recorded {
  constructor(req, body) {
    this.method = req.method;
    this.path = new URL(req.url, 'http://x').pathname;
    this.headers = req.headers;
    this.body = body;
  }

  /** The body as a form (`application/x-www-form-urlencoded`). */
  get form() {
    return Object.fromEntries(new URLSearchParams(this.body));
  }

  /** The body as JSON. */
  get json() {
    return JSON.parse(this.body);
  }
}

/**
 * The site: serves a folder on 127.0.0.1 from its own port.
 *
 * - HTML and JS files get their `__NAME__` placeholders replaced from `vars`
 *   at each request, so a case can start the site, register its origin, then
 *   fill in the site key.
 * - `headers(req)` gives extra response headers for each file (a CSP).
 * - `routes['METHOD /path'] = async (req, recorded) => ({status, type, body})`
 *   plays the site's backend; any other POST answers a small "received" page.
 * - Every POST lands in `posts`; CSP reports (`/csp-report`) in `cspReports`.
 */
export class SiteServer {
  /** Starts serving `dir`; options: `headers`, `routes`, `vars`. */
  static async start(dir, { headers = () => ({}), routes = {}, vars = {} } = {}) {
    const s = new SiteServer();
    s.dir = dir;
    s.headers = headers;
    s.routes = routes;
    s.vars = vars;
    s.posts = [];
    s.cspReports = [];
    s.server = http.createServer((req, res) => {
      s.handle(req, res).catch((e) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(e?.stack || e));
      });
    });
    s.server.listen(0, '127.0.0.1');
    await once(s.server, 'listening');
    s.port = s.server.address().port;
    s.origin = `http://127.0.0.1:${s.port}`;
    return s;
  }

  async handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const rec = new Recorded(req, Buffer.concat(chunks).toString('utf8'));
    const route = this.routes[`${req.method} ${rec.path}`];
    if (rec.path === '/csp-report') {
      this.cspReports.push(rec.body ? JSON.parse(rec.body) : null);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST') this.posts.push(rec);
    if (route) {
      const out = await route(req, rec);
      res.writeHead(out.status || 200, { 'content-type': out.type || 'application/json', 'cache-control': 'no-store' });
      res.end(typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
      return;
    }
    if (req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html lang="en"><title>Received</title><h1 id="received">Received</h1></html>');
      return;
    }
    if (rec.path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    let rel = decodeURIComponent(rec.path);
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.join(this.dir, path.normalize(rel));
    if (!file.startsWith(this.dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const type = TYPES[path.extname(file)] || 'application/octet-stream';
    let body = fs.readFileSync(file);
    if (/^text\/(html|javascript)/.test(type)) {
      let text = body.toString('utf8');
      for (const [k, v] of Object.entries(this.vars)) text = text.replaceAll(`__${k}__`, v);
      body = text;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...this.headers(req, rec) });
    res.end(body);
  }

  /** Stops serving. */
  async close() {
    this.server.closeAllConnections?.();
    this.server.close();
    await once(this.server, 'close').catch(() => {});
  }
}

/**
 * Starts a verifier and a site server for a case's pages (`dir`), with a
 * site registered for the server's origin and its keys filled into the pages
 * (`__VERIFIER__`, `__SITE_KEY__`). `env` adds verifier settings;
 * `siteOptions(stack)` gives the site server's options (headers, routes),
 * which may refer to the stack's verifier and keys once it runs; `stepUp` is
 * the site's step-up policy (see `Verifier.addSite`).
 */
export async function startStack(dir, { env = {}, siteOptions = () => ({}), stepUp, threshold } = {}) {
  const s = { verifier: await Verifier.start({ env }) };
  s.site = await SiteServer.start(dir, siteOptions(s));
  s.keys = await s.verifier.addSite(s.site.origin, 'e2e', { stepUp, threshold });
  s.site.vars = { VERIFIER: s.verifier.url, SITE_KEY: s.keys.site_key };
  s.close = async () => {
    await s.site.close();
    await s.verifier.close();
  };
  return s;
}

/**
 * Starts Chromium. `human: true` (default) removes the automation flag, so
 * `navigator.webdriver` is false as in a person's browser; `human: false`
 * is plain headless automation (`navigator.webdriver` true). `gpu: true`
 * (the default for `human`) has `open()`'s pages name a graphics chip as
 * their WebGL renderer: a person's computer has one, the machine running
 * the tests may not (Chromium then draws with SwiftShader, which the
 * verifier reports as `software_renderer`).
 */
export async function launch({ human = true, gpu = human } = {}) {
  const args = [...CHROMIUM_ARGS];
  if (human) args.push('--disable-blink-features=AutomationControlled');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args, headless: true });
  // A person's Chromium says `Chrome`, not `HeadlessChrome`, in its user
  // agent: `open()` gives the human browser's pages the desktop one.
  if (human) {
    const major = browser.version().split('.')[0];
    browser.personAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36`;
  }
  browser.gpu = gpu;
  return browser;
}

/** A laptop's graphics chip as WebGL's unmasked renderer (see `launch`). */
function graphicsChip() {
  const UNMASKED_RENDERER_WEBGL = 0x9246;
  const chip = 'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)';
  for (const C of [WebGLRenderingContext, WebGL2RenderingContext]) {
    const get = C.prototype.getParameter;
    C.prototype.getParameter = function getParameter(p) {
      return p === UNMASKED_RENDERER_WEBGL ? chip : get.call(this, p);
    };
  }
}

/**
 * The WebGL renderer `page` reports, and whether it is a software
 * rasteriser's (the verifier's `software_renderer`).
 */
export async function renderer(page) {
  const name = await page.evaluate(() => {
    const gl = document.createElement('canvas').getContext('webgl');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : null;
  });
  return { name, software: /swiftshader|llvmpipe|softpipe|basic render driver/i.test(name ?? '') };
}

/**
 * Bookkeeping injected before any page script (CDP-injected, so a page's
 * CSP does not block it): `window.__e2e` holds the widget's `oculto:*`
 * events with their times, CSP violations, long tasks, and the time of the
 * first trusted pointer or key event.
 */
function bookkeeping() {
  const e2e = (window.__e2e = { events: [], violations: [], longTasks: [], firstInteraction: null });
  for (const type of ['oculto:verified', 'oculto:expired', 'oculto:error']) {
    document.addEventListener(type, (e) => e2e.events.push({ type, detail: e.detail ?? null, t: performance.now() }));
  }
  document.addEventListener('securitypolicyviolation', (e) =>
    e2e.violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }),
  );
  for (const type of ['pointermove', 'pointerdown', 'keydown']) {
    window.addEventListener(
      type,
      (e) => {
        if (e.isTrusted && e2e.firstInteraction === null) e2e.firstInteraction = performance.now();
      },
      true,
    );
  }
  try {
    new PerformanceObserver((list) => {
      for (const t of list.getEntries()) e2e.longTasks.push({ start: t.startTime, duration: t.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // No long task API: nothing to measure.
  }
}

/**
 * A new page (in its own context) with `bookkeeping` installed. `page.e2e`
 * collects console errors and warnings, uncaught page errors and HTTP
 * errors as they happen (see `problems`).
 */
export async function open(browser, { viewport = { width: 1000, height: 800 } } = {}) {
  // A person's window is smaller than their screen (toolbars, a task bar);
  // Playwright reports the viewport as the screen unless told otherwise.
  const screen = browser.personAgent
    ? { width: Math.max(1920, viewport.width), height: Math.max(1080, viewport.height + 120) }
    : undefined;
  const context = await browser.newContext({ viewport, screen, userAgent: browser.personAgent });
  const page = await context.newPage();
  await page.addInitScript(bookkeeping);
  if (browser.gpu) await page.addInitScript(graphicsChip);
  page.e2e = { console: [], errors: [], httpErrors: [], failed: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') page.e2e.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.e2e.errors.push(String(e)));
  page.on('requestfailed', (r) => page.e2e.failed.push(`${r.failure()?.errorText} ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) page.e2e.httpErrors.push(`${r.status()} ${r.url()}`);
  });
  return page;
}

/**
 * What went wrong on `page` so far, for a test to assert empty: uncaught
 * errors, console errors and warnings (without Chromium's own line for a
 * failed load, listed instead in HTTP errors), HTTP errors except the
 * favicon's 404.
 */
export function problems(page) {
  return [
    ...page.e2e.errors,
    ...page.e2e.console.filter((c) => !c.includes('Failed to load resource')),
    ...page.e2e.httpErrors,
  ];
}

/** The page's bookkeeping (`window.__e2e`). */
export function record(page) {
  return page.evaluate(() => window.__e2e);
}

/**
 * What the widget in `host` (a selector) shows: `label`, `status`,
 * `checked` (aria-checked), `disabled`, `retryVisible`, and `field`, the
 * value of its form's hidden `_co_verdict` input (null without one).
 */
export function widgetState(page, host = '.oculto') {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const root = el?.shadowRoot;
    if (!root) return null;
    const check = root.querySelector('.check');
    const retry = root.querySelector('.side button');
    const field = el.closest('form')?.querySelector('input[name="_co_verdict"]');
    return {
      label: root.querySelector('.label')?.textContent ?? '',
      status: root.querySelector('.status')?.textContent ?? '',
      checked: check?.getAttribute('aria-checked') ?? null,
      disabled: !!check?.disabled,
      retryVisible: !!retry && !retry.hidden && retry.getClientRects().length > 0,
      field: field ? field.value : null,
    };
  }, host);
}

/** Waits until the widget in `host` has rendered its shadow root. */
export async function widgetRendered(page, host = '.oculto') {
  try {
    await page.waitForFunction((sel) => !!document.querySelector(sel)?.shadowRoot?.querySelector('.check'), host, {
      timeout: PATIENCE_MS,
    });
  } catch (e) {
    // Say what the page saw: a timeout alone does not tell a script that
    // never loaded from one that failed.
    const scripts = await page
      .evaluate(() => [...document.scripts].map((s) => s.src || 'inline'))
      .catch((err) => [`(page unreadable: ${err.message})`]);
    const seen = page.e2e ? [...page.e2e.errors, ...page.e2e.console, ...page.e2e.httpErrors, ...page.e2e.failed] : [];
    e.message += `\n${page.url()}: no widget in ${host}; scripts [${scripts.join(', ')}]; page saw [${seen.join(' | ')}]`;
    throw e;
  }
}

/**
 * Waits until the page has seen at least `n` widget events of `type` since
 * it loaded; resolves with all of them.
 */
export async function waitForEvent(page, type, n = 1, timeout = PATIENCE_MS) {
  await page.waitForFunction(([t, k]) => window.__e2e.events.filter((e) => e.type === t).length >= k, [type, n], {
    timeout,
  });
  return (await record(page)).events.filter((e) => e.type === type);
}

/** A small seeded random source (mulberry32): runs repeat, `E2E_SEED` varies them. */
export function random(seed = Number(process.env.E2E_SEED || 7)) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Drives a page as a person would. A reach follows the minimum-jerk profile
 * of human arm movements (slow start, one speed peak, slow landing), skewed
 * so that the peak comes early, along a slight arc, with a low-frequency tremor; a long reach lands a little off
 * and a short corrective reach follows. The pointer rests before a press, a
 * press lasts 60-150 ms, keys are typed with an uneven rhythm. All of it
 * goes through Chromium's input pipeline, so the page sees trusted events.
 */
export class Person {
  constructor(page, rnd = random()) {
    this.page = page;
    this.rnd = rnd;
    this.x = 20 + rnd() * 60;
    this.y = 20 + rnd() * 60;
  }

  /** A number between `lo` and `hi`. */
  between(lo, hi) {
    return lo + this.rnd() * (hi - lo);
  }

  /**
   * One submovement from the current point to (x, y) in about `ms`
   * milliseconds. Positions follow wall-clock time, so a slow event loop
   * makes the samples sparser, not the movement slower.
   */
  async reach(x, y, ms) {
    const { x: x0, y: y0 } = this;
    const dx = x - x0;
    const dy = y - y0;
    const dist = Math.hypot(dx, dy);
    // The arc bulges to one side, most where the hand is fastest.
    const bulge = (this.rnd() < 0.5 ? -1 : 1) * this.between(0.05, 0.22) * dist;
    const lean = this.between(0.7, 1.4);
    const nx = dist ? -dy / dist : 0;
    const ny = dist ? dx / dist : 0;
    // Tremor: two slow sines of a pixel or so, with random phases.
    const f1 = this.between(6, 10);
    const f2 = this.between(11, 17);
    const p1 = this.between(0, 2 * Math.PI);
    const p2 = this.between(0, 2 * Math.PI);
    const amp = this.between(0.5, 1.5);
    // People speed up faster than they slow down: the speed peaks before
    // the middle and the landing is long.
    const skew = this.between(0.6, 0.85);
    const start = performance.now();
    for (;;) {
      await sleep(this.between(6, 14));
      const tau = Math.min(1, (performance.now() - start) / ms);
      const u = tau ** skew;
      const s = u ** 3 * (10 - 15 * u + 6 * u * u);
      const side = bulge * Math.sin(Math.PI * s ** lean);
      const secs = (performance.now() - start) / 1000;
      const shake = tau < 1 ? amp * (Math.sin(2 * Math.PI * f1 * secs + p1) + 0.5 * Math.sin(2 * Math.PI * f2 * secs + p2)) : 0;
      const px = x0 + dx * s + nx * (side + shake);
      const py = y0 + dy * s + ny * (side + shake);
      await this.page.mouse.move(px, py);
      if (tau >= 1) break;
    }
    this.x = x;
    this.y = y;
  }

  /**
   * Moves the mouse to (x, y): a primary reach whose duration grows with the
   * distance (Fitts' law) and which lands a few percent short, long or to
   * the side, then a short correction onto the target.
   */
  async moveTo(x, y) {
    const dist = Math.hypot(x - this.x, y - this.y);
    if (dist < 3) {
      await this.reach(x, y, this.between(40, 80));
      return;
    }
    const ms = (300 + 230 * Math.log2(1 + dist / 10)) * this.between(0.8, 1.3);
    if (dist < 40) {
      await this.reach(x, y, ms);
      return;
    }
    const ux = (x - this.x) / dist;
    const uy = (y - this.y) / dist;
    const miss = (along, across) => [x + ux * along - uy * across, y + uy * along + ux * across];
    await this.reach(...miss(this.between(-0.12, 0.06) * dist, this.between(-0.05, 0.05) * dist), ms);
    // One or two corrections, each closer, after a short hesitation.
    if (this.rnd() < 0.5) {
      await sleep(this.between(20, 120));
      await this.reach(...miss(this.between(-12, 6), this.between(-6, 6)), this.between(150, 300));
    }
    await sleep(this.between(20, 120));
    await this.reach(x, y, this.between(150, 300));
  }

  /** Wanders over the page for a moment, as people do while reading. */
  async wander(moves = 3) {
    const vp = this.page.viewportSize() || { width: 800, height: 600 };
    for (let i = 0; i < moves; i++) {
      await this.moveTo(this.between(40, vp.width - 40), this.between(40, vp.height - 40));
      await sleep(this.between(150, 400));
    }
  }

  /** Moves to a point inside the element `selector` (pierces shadow roots) and clicks it. */
  async click(selector) {
    const box = await this.page.locator(selector).first().boundingBox();
    if (!box) throw new Error(`${selector} is not visible`);
    await this.moveTo(box.x + box.width * this.between(0.3, 0.7), box.y + box.height * this.between(0.3, 0.7));
    await sleep(this.between(90, 250));
    await this.page.mouse.down();
    await sleep(this.between(60, 150));
    await this.page.mouse.up();
  }

  /** Types `text` into the focused element, one key at a time. */
  async type(text) {
    for (const ch of text) {
      await this.page.keyboard.type(ch, { delay: this.between(45, 110) });
      await sleep(this.between(this.rnd() < 0.1 ? 200 : 30, this.rnd() < 0.1 ? 450 : 160));
    }
  }

  /** Clicks a field, then types into it. */
  async fill(selector, text) {
    await this.click(selector);
    await sleep(this.between(150, 350));
    await this.type(text);
  }
}

// Case: step-up challenges (issue 4). The site is registered with
// `--step-up always`, so every session gets a challenge before its verdict;
// the page has a strict Content Security Policy (no `img-src data:`, no
// `media-src`, `connect-src` for the verifier only), which the image and the
// audio must live with.
//
// 1. A mouse user sees the challenge drawn on the canvas, with an accessible
//    name that says what to do and never the answer; a wrong answer brings a
//    new challenge and an announcement; the right one (read from the
//    verifier's store with sqlite3) gives a verdict that the site's backend
//    finds valid.
// 2. A keyboard user does the same without the mouse: the challenge's field
//    takes the focus, Enter answers, Tab and Enter submit the form.
// 3. "Play audio" fetches the WAV (200, audio/wav) and plays it through Web
//    Audio without any CSP violation, in English, or French for a French page.
// 4. "New challenge" brings another id and another image.
// 5. axe finds no violation with the step-up area shown (light and dark).
// 6. Out of attempts, the widget shows success anyway (phantom success).
// 7. A submit made before the challenge is held, then goes on by itself.
// 8. challenge_not_found, or a challenge about to expire, starts over with a
//    new session, and its challenge gets the focus back.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  PATIENCE_MS,
  Person,
  ROOT,
  launch,
  open,
  problems,
  record,
  requireWidget,
  sleep,
  startStack,
  waitForEvent,
  widgetRendered,
  widgetState,
} from '../harness.mjs';

const AXE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');

let browser;
let stack;
/** The backend's /verify answers, one per form post. */
const verdicts = [];

/** The strict policy: the verifier's scripts and calls, nothing inline, no data: images, no media. */
function csp(v) {
  return [
    "default-src 'none'",
    `script-src 'self' ${v} 'wasm-unsafe-eval'`,
    `connect-src ${v}`,
    'worker-src blob:',
    "style-src 'none'",
    "img-src 'none'",
    "media-src 'none'",
    "font-src 'none'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    'report-uri /csp-report',
  ].join('; ');
}

const escapeHtml = (s) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);

before(async () => {
  requireWidget();
  stack = await startStack(import.meta.dirname, {
    stepUp: 'always',
    siteOptions: (s) => ({
      // ?nocsp serves the page without its policy, for axe's injected script.
      headers: (req) =>
        new URL(req.url, 'http://x').searchParams.has('nocsp') ? {} : { 'content-security-policy': csp(s.verifier.url) },
      routes: {
        // The site's backend: checks the posted verdict once with /verify.
        'POST /subscribe': async (_req, rec) => {
          const v = await s.verifier.verify(rec.form._co_verdict ?? '', s.keys.api_key);
          verdicts.push(v);
          const title = v.body.valid ? 'Subscribed' : 'Refused';
          return {
            type: 'text/html; charset=utf-8',
            body: `<!doctype html><html lang="en"><title>${title}</title><h1 id="received">${title}</h1><pre id="verify">${escapeHtml(JSON.stringify(v.body))}</pre></html>`,
          };
        },
      },
    }),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/**
 * Notes the page's calls to /score (request and answer) and to the step-up
 * audio (URL, status, content type), as they happen.
 */
function track(page) {
  const t = { scores: [], audio: [] };
  page.on('response', async (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/score') {
      const entry = { req: JSON.parse(r.request().postData() || '{}'), status: r.status(), body: null };
      t.scores.push(entry);
      entry.body = await r.json().catch(() => null);
    } else if (/^\/challenge\/[^/]+\/audio$/.test(u.pathname)) {
      t.audio.push({ url: r.url(), lang: u.searchParams.get('lang'), status: r.status(), type: r.headers()['content-type'] });
    }
  });
  /** The challenges the verifier sent, oldest first. */
  t.challenges = () => t.scores.filter((s) => s.body?.step_up).map((s) => ({ ...s.body.step_up, sessionId: s.req.session_id }));
  /** The `n`th challenge (from 1), once its answer has been read. */
  t.challenge = async (n) => {
    await until(() => t.challenges().length >= n, `challenge ${n}`);
    return t.challenges()[n - 1];
  };
  return t;
}

/** Waits until `check()` is true (polling node-side state). */
async function until(check, what, timeout = PATIENCE_MS) {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * The right answer of a session's newest challenge, read from the
 * verifier's store (the `challenges` table: the answer is in the body's
 * JSON). Returns `{id, answer}`.
 */
function newestChallenge(sessionId) {
  assert.match(sessionId, /^co_[\w-]+$/);
  const rows = stack.verifier.query(
    `SELECT id, json_extract(body, '$.answer') AS answer FROM challenges ` +
      `WHERE json_extract(body, '$.step_up.session_id') = '${sessionId}' ORDER BY id DESC LIMIT 1`,
  );
  assert.equal(rows.length, 1, `a stored challenge for ${sessionId}`);
  return rows[0];
}

/**
 * What the step-up area shows: whether it is visible, the canvas's role and
 * accessible name, the announced status, the field's value and attributes,
 * which buttons are there, and where the focus is.
 */
function stepUpState(page) {
  return page.evaluate(() => {
    const root = document.querySelector('.oculto').shadowRoot;
    const area = root.querySelector('.stepup');
    const canvas = area.querySelector('canvas');
    const input = area.querySelector('input');
    const label = input.labels?.[0]?.textContent ?? null;
    const a = root.activeElement;
    return {
      visible: !area.hidden && area.getClientRects().length > 0,
      role: canvas.getAttribute('role'),
      name: canvas.getAttribute('aria-label'),
      status: root.querySelector('.status').textContent,
      value: input.value,
      label,
      attrs: Object.fromEntries(['autocomplete', 'autocapitalize', 'spellcheck', 'inputmode'].map((k) => [k, input.getAttribute(k)])),
      buttons: [...area.querySelectorAll('button')].filter((b) => !b.hidden).map((b) => b.textContent),
      focus: a ? (a === input ? 'input' : `${a.tagName.toLowerCase()}:${a.textContent}`) : document.activeElement?.tagName.toLowerCase(),
    };
  });
}

/** Waits until the step-up area is on show. */
async function stepUpShown(page) {
  await page.waitForFunction(() => {
    const area = document.querySelector('.oculto')?.shadowRoot?.querySelector('.stepup');
    return area && !area.hidden && area.getClientRects().length > 0;
  }, null, { timeout: PATIENCE_MS });
}

/**
 * Waits until the challenge canvas holds an image other than `previous`
 * (a `pixels` fingerprint), then resolves with `{pixels, distinct, width,
 * height}`: a fingerprint of its pixels and how many distinct colours it has.
 */
async function drawn(page, previous = null) {
  const read = () =>
    page.evaluate(() => {
      const c = document.querySelector('.oculto').shadowRoot.querySelector('.stepup canvas');
      // Read through a copy made for reading, so the widget's own canvas is
      // never read back (Chromium warns about repeated readbacks).
      const copy = document.createElement('canvas');
      copy.width = c.width;
      copy.height = c.height;
      const ctx = copy.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(c, 0, 0);
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      let hash = 0;
      for (let i = 0; i < data.length; i += 4) {
        const px = (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3];
        colours.add(px);
        hash = (Math.imul(hash, 31) + px) | 0;
      }
      return { pixels: hash, distinct: colours.size, width: c.width, height: c.height };
    });
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const r = await read();
    if (r.distinct > 1 && r.pixels !== previous) return r;
    if (Date.now() > deadline) throw new Error('the challenge image was never drawn');
    await sleep(25);
  }
}

/** The widget's step-up button named `name` (a selector piercing the shadow root). */
const stepUpButton = (name) => `.oculto .stepup button:text-is("${name}")`;

/** Fails on any CSP violation the page saw (events, console, reports). */
async function noCspViolation(page) {
  assert.deepEqual((await record(page)).violations, [], 'no securitypolicyviolation event');
  assert.deepEqual(page.e2e.console.filter((l) => /Content Security Policy|Refused to/.test(l)), [], 'no CSP message');
  assert.deepEqual(stack.site.cspReports, [], 'no CSP report');
}

test('a mouse user: a wrong answer brings a new challenge, the right one a valid verdict', async (t) => {
  const page = await open(browser);
  const net = track(page);
  stack.site.cspReports.length = 0;
  await page.goto(`${stack.site.origin}/`);
  await widgetRendered(page);
  const me = new Person(page);
  await me.wander(2);
  await stepUpShown(page);
  const first = await net.challenge(1);
  assert.ok(first, 'a step_up answer');
  assert.equal(first.kind, 'image');
  assert.match(first.image, /^data:image\/png;base64,/);

  const img = await drawn(page);
  t.diagnostic(`challenge image ${img.width}x${img.height}, ${img.distinct} distinct colours`);
  assert.equal(img.width, 240);
  assert.equal(img.height, 80);
  assert.ok(img.distinct >= 8, `the canvas shows an image, not a blank or flat fill (${img.distinct} colours)`);

  let shown = await stepUpState(page);
  const stored = newestChallenge(first.sessionId);
  assert.equal(stored.id, first.challenge_id, 'the store holds the challenge shown');
  assert.equal(shown.role, 'img');
  assert.match(shown.name, new RegExp(`type the ${first.length} characters you see, or play the audio`));
  assert.ok(!shown.name.toUpperCase().includes(stored.answer), 'the accessible name never holds the answer');
  assert.match(shown.status, /^Verification needed: type the characters you see or hear/);
  assert.equal(shown.label, 'Characters');
  assert.deepEqual(shown.attrs, { autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', inputmode: 'text' });
  assert.deepEqual(shown.buttons, ['Verify', 'New challenge', 'Play audio']);
  assert.equal(shown.focus, 'input', 'the focus went to the answer field (it was nowhere in particular)');
  assert.equal((await widgetState(page)).field, '', 'no token yet');
  assert.equal(await page.locator('button[type=submit]').isDisabled(), true, 'the form waits for the challenge');

  // Wrong: one character short.
  await me.fill('.oculto .stepup input', stored.answer.slice(0, -1));
  await me.click(stepUpButton('Verify'));
    const second = await net.challenge(2);
  assert.notEqual(second.challenge_id, first.challenge_id);
  assert.equal(second.attempts_left, first.attempts_left - 1);
  await drawn(page, img.pixels);
  shown = await stepUpState(page);
  assert.match(shown.status, /^That was not right, try again/);
  assert.equal(shown.value, '', 'the field was emptied');
  assert.equal(shown.focus, 'input', 'the focus is back in the field');

  // Right, read from the store.
  const right = newestChallenge(second.sessionId);
  assert.equal(right.id, second.challenge_id);
  await me.type(right.answer.toLowerCase());
  await me.click(stepUpButton('Verify'));
  const [verified] = await waitForEvent(page, 'oculto:verified');
  const state = await widgetState(page);
  assert.equal(state.label, 'Verified');
  assert.equal(state.field, verified.detail, 'the verdict is in _co_verdict');
  assert.equal((await stepUpState(page)).visible, false, 'the challenge is gone');

  verdicts.length = 0;
  await me.fill('#email', 'reader@ex.org');
  await me.click('button[type=submit]');
  await page.waitForSelector('#received');
  assert.equal(verdicts.length, 1, 'one form post, checked once');
  const v = verdicts[0];
  t.diagnostic(`/verify: valid ${v.body.valid}, score ${v.body.score} ${v.body.classification} [${v.body.reasons}]`);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  // Validity depends on how the scripted mouse scored; what the flow owes
  // is a verdict that knows both answers.
  assert.ok(v.body.reasons.includes('step_up_wrong'), 'the verdict knows a wrong answer was given');
  assert.ok(v.body.reasons.includes('step_up_passed'), 'the verdict knows the challenge was passed');
  await noCspViolation(page);
  assert.deepEqual(problems(page), []);
  await page.context().close();
});

/** Where the keyboard focus is, looking into the widget's shadow root. */
function focused(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    const inner = a?.shadowRoot?.activeElement;
    if (inner) return `.oculto ${inner.tagName.toLowerCase()}${inner.className ? `.${inner.className}` : ''}`;
    return a ? `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}${a.type ? `[type=${a.type}]` : ''}` : 'none';
  });
}

test('keyboard only: the field takes the focus, Enter answers, Tab and Enter submit', async (t) => {
  const page = await open(browser);
  const net = track(page);
  // Counts pointer and mouse events of any kind: there must be none.
  await page.addInitScript(() => {
    window.__mouse = 0;
    for (const type of ['pointerdown', 'pointermove', 'mousedown', 'mousemove', 'pointerup'])
      window.addEventListener(type, () => window.__mouse++, true);
  });
  await page.goto(`${stack.site.origin}/?execution=execute`);
  await widgetRendered(page);
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'input#email[type=email]');
  // A person's keys, held and spaced unevenly (one fixed delay for every
  // key is a script's rhythm, and scored as one).
  await new Person(page).type('kb@ex.org');
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), '.oculto button.check', 'Tab reaches the widget');
  await page.keyboard.press('Space', { delay: 80 });
  await stepUpShown(page);
  await page.waitForFunction(() => document.querySelector('.oculto').shadowRoot.activeElement?.tagName === 'INPUT');
  assert.equal(await focused(page), '.oculto input', "the challenge's field has the focus");

  const shown = await net.challenge(1);
  const { answer } = newestChallenge(shown.sessionId);
  await page.keyboard.type(answer, { delay: 50 });
  await page.keyboard.press('Enter');
  const [verified] = await waitForEvent(page, 'oculto:verified');
  assert.equal((await widgetState(page)).field, verified.detail);
  const where = await focused(page);
  await page.keyboard.press('Tab');
  const next = await focused(page);
  t.diagnostic(`focus once verified: ${where}; after one more Tab: ${next}`);
  assert.equal(where, '.oculto button.check', 'the focus stays in the widget, not lost to the body');
  assert.equal(next, 'button[type=submit]');
  verdicts.length = 0;
  await page.keyboard.press('Enter');
  await page.waitForSelector('#received');
  assert.equal(verdicts.length, 1);
  assert.equal(verdicts[0].body.valid, true, JSON.stringify(verdicts[0].body));
  t.diagnostic(`/verify: score ${verdicts[0].body.score} ${verdicts[0].body.classification} [${verdicts[0].body.reasons}]`);
  assert.equal(await page.evaluate(() => window.__mouse), 0, 'no pointer or mouse event at all');
  assert.deepEqual(problems(page), []);
  await page.context().close();
});

for (const [language, lang, button] of [
  ['', 'en', 'Play audio'],
  ['fr', 'fr', "Écouter l'audio"],
]) {
  test(`"Play audio" fetches and plays the WAV under the strict CSP (${lang})`, async (t) => {
    const page = await open(browser);
    const net = track(page);
    stack.site.cspReports.length = 0;
    await page.goto(`${stack.site.origin}/${language ? `?language=${language}` : ''}`);
    await widgetRendered(page);
    const me = new Person(page);
    await me.wander(1);
    await stepUpShown(page);
    await drawn(page);
    await me.click(stepUpButton(button));
    await until(() => net.audio.length >= 1, 'the audio request');
    const [audio] = net.audio;
    t.diagnostic(`audio: ${audio.status} ${audio.type} ${new URL(audio.url).pathname}?lang=${audio.lang}`);
    assert.equal(audio.status, 200);
    assert.match(audio.type, /^audio\/(wav|x-wav|wave)/);
    assert.equal(audio.lang, lang);
    assert.ok(audio.url.startsWith(`${stack.verifier.url}/challenge/${(await net.challenge(1)).challenge_id}/audio`));
    // Decoding and playing happen after the fetch: a failure would be announced.
    await sleep(500);
    const failed = lang === 'fr' ? "L'audio n'a pas pu être lu." : 'The audio could not be played.';
    assert.notEqual((await stepUpState(page)).status, failed, 'the audio played');
    // A second press replays the decoded sound without fetching again.
    await me.click(stepUpButton(button));
    await sleep(300);
    assert.equal(net.audio.length, 1, 'fetched once per challenge');
    await noCspViolation(page);
    assert.deepEqual(problems(page), []);
    await page.context().close();
  });
}

test('"New challenge" brings another id and another image, and costs no attempt', async () => {
  const page = await open(browser);
  const net = track(page);
  await page.goto(`${stack.site.origin}/`);
  await widgetRendered(page);
  const me = new Person(page);
  await me.wander(1);
  await stepUpShown(page);
  const before = await drawn(page);
  const first = await net.challenge(1);
  await me.click(stepUpButton('New challenge'));
    const second = await net.challenge(2);
  const refresh = net.scores.at(-1).req;
  assert.equal(refresh.answer.refresh, true);
  assert.equal(refresh.answer.challenge_id, first.challenge_id);
  assert.notEqual(second.challenge_id, first.challenge_id, 'another id');
  assert.equal(second.attempts_left, first.attempts_left, 'no attempt used');
  assert.equal(second.refreshes_left, first.refreshes_left - 1);
  const afterImg = await drawn(page, before.pixels);
  assert.notEqual(afterImg.pixels, before.pixels, 'another image');
  const shown = await stepUpState(page);
  assert.match(shown.status, /^New challenge shown/);
  assert.equal(shown.focus, 'button:New challenge', 'the focus stays on the button');
  assert.deepEqual(problems(page), []);
  await page.context().close();
});

/** Runs axe on the widget; resolves with its violations and how many rules passed inside the shadow root. */
async function axe(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document.querySelector('.oculto'), { resultTypes: ['violations', 'passes'] });
    return {
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target) })),
      shadowPasses: r.passes.filter((p) => p.nodes.some((n) => Array.isArray(n.target[0]) || n.target.length > 1)).length,
    };
  });
}

for (const theme of ['light', 'dark']) {
  test(`axe: no violation with the step-up area shown (${theme})`, async (t) => {
    const page = await open(browser);
    await page.goto(`${stack.site.origin}/?nocsp&theme=${theme}`);
    await widgetRendered(page);
    await new Person(page).wander(1);
    await stepUpShown(page);
    await drawn(page);
    const r = await axe(page);
    assert.deepEqual(r.violations, [], 'axe violations with the challenge shown');
    assert.ok(r.shadowPasses > 0);
    t.diagnostic(`step-up (${theme}): no violation, ${r.shadowPasses} rules passed inside the shadow root`);
    await page.context().close();
  });
}

test('out of attempts: the widget shows success anyway, only /verify knows (phantom success)', async (t) => {
  const page = await open(browser);
  const net = track(page);
  await page.goto(`${stack.site.origin}/`);
  await widgetRendered(page);
  const me = new Person(page);
  await me.wander(1);
  await stepUpShown(page);
  const attempts = (await net.challenge(1)).attempts_left;
  for (let i = 0; i < attempts; i++) {
    const shown = net.challenges().at(-1);
    const { answer } = newestChallenge(shown.sessionId);
    await me.fill('.oculto .stepup input', answer.slice(0, -1));
    await page.keyboard.press('Enter');
    if (i < attempts - 1) await until(() => net.challenges().length >= i + 2, `challenge ${i + 2}`);
  }
  const [verified] = await waitForEvent(page, 'oculto:verified');
  assert.equal((await widgetState(page)).label, 'Verified', 'success, as for a right answer');
  const v = await stack.verifier.verify(verified.detail, stack.keys.api_key);
  t.diagnostic(`after ${attempts} wrong answers: valid ${v.body.valid}, score ${v.body.score} [${v.body.reasons}]`);
  assert.ok(v.body.reasons.includes('step_up_failed'));
  assert.deepEqual(problems(page), []);
  await page.context().close();
});

test('a submit made before the challenge waits for it, then goes on by itself', async (t) => {
  const page = await open(browser);
  const net = track(page);
  // execution "execute": nothing starts before the submit.
  await page.goto(`${stack.site.origin}/?execution=execute`);
  await widgetRendered(page);
  const me = new Person(page);
  verdicts.length = 0;
  await me.fill('#email', 'early@ex.org');
  await page.keyboard.press('Enter');
  await stepUpShown(page);
  assert.equal(await focused(page), '.oculto input', 'the person waiting to submit is taken to the challenge');
  assert.equal(await page.locator('button[type=submit]').isDisabled(), true, 'the submit is held');
  assert.equal(verdicts.length, 0, 'nothing posted without a token');
  const { answer } = newestChallenge((await net.challenge(1)).sessionId);
  await me.type(answer);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#received');
  assert.equal(verdicts.length, 1, 'the held submit went on once');
  assert.equal(verdicts[0].body.valid, true, JSON.stringify(verdicts[0].body));
  t.diagnostic(`/verify: score ${verdicts[0].body.score} [${verdicts[0].body.reasons}]`);
  assert.deepEqual(problems(page), []);
  await page.context().close();
});

test('a challenge that is gone (challenge_not_found) starts over with a new session', async () => {
  const page = await open(browser);
  const net = track(page);
  // The verifier's answer to the first answer is replaced by "not found".
  let refused = 0;
  await page.route(`${stack.verifier.url}/score`, async (route) => {
    if (JSON.parse(route.request().postData() || '{}').answer && refused++ === 0) {
      await route.fulfill({
        status: 404,
        contentType: 'application/json',
        headers: { 'access-control-allow-origin': stack.site.origin },
        body: JSON.stringify({ error: 'challenge_not_found', message: 'no such challenge for this session' }),
      });
    } else {
      await route.continue();
    }
  });
  await page.goto(`${stack.site.origin}/`);
  await widgetRendered(page);
  const me = new Person(page);
  await me.wander(1);
  await stepUpShown(page);
  const first = await net.challenge(1);
  await me.fill('.oculto .stepup input', 'ABCD');
  await page.keyboard.press('Enter');
    const second = await net.challenge(2);
  assert.notEqual(second.sessionId, first.sessionId, 'a new session from /init');
  await stepUpShown(page);
  assert.equal((await stepUpState(page)).focus, 'input', 'the focus is back in the field');
  const { answer } = newestChallenge(second.sessionId);
  await me.type(answer);
  await page.keyboard.press('Enter');
  const [verified] = await waitForEvent(page, 'oculto:verified');
  const v = await stack.verifier.verify(verified.detail, stack.keys.api_key);
  assert.equal(v.body.valid, true, JSON.stringify(v.body));
  await page.context().close();
});

test('an expiring challenge is replaced by a new session\'s, the focus kept', async (t) => {
  // Challenges live 12 s here; the widget starts over 5 s before the end,
  // which leaves the Person 7 s to reach the field and type a letter.
  const short = await startStack(import.meta.dirname, { stepUp: 'always', env: { OCULTO_CHALLENGE__TTL_SECS: '12' } });
  try {
    const page = await open(browser);
    const net = track(page);
    await page.goto(`${short.site.origin}/?nocsp`);
    await widgetRendered(page);
    const me = new Person(page);
    await me.wander(1);
    await stepUpShown(page);
    const first = await net.challenge(1);
    await me.fill('.oculto .stepup input', 'A');
    const shownAt = Date.now();
    const second = await net.challenge(2);
    t.diagnostic(`replaced after ${Date.now() - shownAt} ms (expires_at in ${first.expires_at - Math.floor(shownAt / 1000)} s)`);
    assert.notEqual(second.sessionId, first.sessionId, 'a new session');
    assert.equal(net.scores.filter((s) => s.req.answer).length, 0, 'no answer was sent for the expiring one');
    await stepUpShown(page);
    const shown = await stepUpState(page);
    assert.equal(shown.focus, 'input', 'the focus came back to the field');
    assert.equal(shown.value, '');
    assert.deepEqual(problems(page), []);
    await page.context().close();
  } finally {
    await short.close();
  }
});

// Case 4: a single-page app keeps using one widget. After a submit,
// reset() gives a new token, the spent one is refused (409) and the new one
// accepted. With short-lived tokens (OCULTO_TOKEN_TTL_SECS=3; the widget
// renews 30 s before expiry, so here about 1 s after each token), the widget
// fires oculto:expired and the expired-callback, renews the token by itself,
// and the old token is refused once past its expiry. With refresh-expired
// "manual" it shows the expired state instead and waits for the person.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  Person,
  launch,
  open,
  problems,
  requireWidget,
  sleep,
  waitForEvent,
  widgetRendered,
  widgetState,
  startStack,
  TOKEN_CASE_THRESHOLD,
} from '../harness.mjs';

const DIR = import.meta.dirname;
const TTL_SECS = 3;

/** A verifier, and the SPA's site whose /api/signup checks tokens with it. */
function stack(env = {}) {
  return startStack(DIR, {
    env,
    threshold: TOKEN_CASE_THRESHOLD,
    siteOptions: (s) => ({
      routes: {
        'POST /api/signup': async (_req, rec) => {
          const v = await s.verifier.verify(rec.json.token, s.keys.api_key);
          return { body: { status: v.status, ...v.body } };
        },
      },
    }),
  });
}

/** JWT claims, read without checking. */
function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

let normal;
let shortLived;
let browser;

before(async () => {
  requireWidget();
  normal = await stack();
  shortLived = await stack({ OCULTO_TOKEN_TTL_SECS: String(TTL_SECS) });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const s of [normal, shortLived]) await s?.close();
});

/** Opens the SPA at `query` and waits for its first token, moving like a person. */
async function start(s, query = '') {
  const page = await open(browser);
  await page.goto(`${s.site.origin}/${query}`);
  await widgetRendered(page, '#captcha');
  const me = new Person(page);
  await me.wander(2);
  const [first] = await waitForEvent(page, 'oculto:verified');
  return { page, me, first: first.detail };
}

/** Fills the name, submits, and waits for the backend's answer. */
async function submit(page, me) {
  await me.fill('#name', 'Grace');
  await me.click('button[type=submit]');
  await page.waitForFunction(() => window.app.results.length > 0);
  await sleep(300); // room for a second, unwanted post to show up
  return page.evaluate(() => window.app);
}

test('reset() after a submit gives a new token; the spent one is 409, the new one 200', async (t) => {
  const { verifier, keys } = normal;
  const { page, me } = await start(normal);
  const app = await submit(page, me);
  assert.equal(app.posts.length, 1, 'one post per submit');
  assert.equal(app.results[0].status, 200);
  assert.equal(app.results[0].valid, true, JSON.stringify(app.results[0]));
  assert.equal(await page.locator('#result').innerText(), 'Welcome!');
  const spent = app.posts[0];

  const right = await page.evaluate(() => {
    window.oculto.reset(window.app.id);
    return window.oculto.getResponse(window.app.id) ?? null;
  });
  assert.equal(right, null, 'reset() forgets the token at once');
  await page.waitForFunction((old) => {
    const tok = window.oculto.getResponse(window.app.id);
    return tok && tok !== old;
  }, spent);
  const fresh = await page.evaluate(() => window.oculto.getResponse(window.app.id));
  assert.equal((await widgetState(page, '#captcha')).field, fresh, '_co_verdict holds the new token');

  const again = await verifier.verify(spent, keys.api_key);
  assert.equal(again.status, 409);
  assert.equal(again.body.error, 'already_verified');
  const now = await verifier.verify(fresh, keys.api_key);
  assert.equal(now.status, 200, JSON.stringify(now.body));
  assert.equal(now.body.valid, true, JSON.stringify(now.body));
  t.diagnostic(`spent token: 409 ${again.body.error}; new token: 200 score ${now.body.score} ${now.body.classification}`);
  assert.deepEqual(problems(page), []);
});

test(
  'a submit handler registered before the widget posts once',
  async () => {
    const { page, me } = await start(normal, '?early=1');
    const app = await submit(page, me);
    assert.equal(app.posts.length, 1, `posts: ${app.posts.map((p) => (p ? p.slice(-8) : p)).join(', ')}`);
  },
);

test('a token past its lifetime: oculto:expired, expired-callback, a new token, the old one refused', async (t) => {
  const { verifier, keys } = shortLived;
  const { page, first } = await start(shortLived);
  const exp = claims(first).exp;
  assert.ok(exp - claims(first).iat <= TTL_SECS, 'the verifier issued short-lived tokens');

  const [expired] = await waitForEvent(page, 'oculto:expired');
  const verified = await waitForEvent(page, 'oculto:verified', 2);
  assert.notEqual(verified[1].detail, first, 'a new token');
  assert.ok((await page.evaluate(() => window.app.expired)) >= 1, 'expired-callback was called');
  t.diagnostic(
    `token ${Math.round(verified[0].t)} ms, expired ${Math.round(expired.t)} ms, renewed ${Math.round(verified[1].t)} ms (page time)`,
  );

  // Past its exp, the first token is refused.
  await sleep(Math.max(0, exp * 1000 - Date.now()) + 300);
  const old = await verifier.verify(first, keys.api_key);
  assert.equal(old.status, 400);
  assert.equal(old.body.error, 'invalid_token');
  // The widget's current token is good.
  await page.waitForFunction(() => !!window.oculto.getResponse(window.app.id));
  const current = await page.evaluate(() => window.oculto.getResponse(window.app.id));
  const ok = await verifier.verify(current, keys.api_key);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  t.diagnostic(`expired token: ${old.status} ${old.body.error} (${old.body.message}); current token: ${ok.status}`);
  assert.deepEqual(problems(page), []);
});

test('refresh-expired "manual": the expired state shows, the checkbox starts again', async () => {
  const { page, me, first } = await start(shortLived, '?refresh=manual');
  await waitForEvent(page, 'oculto:expired');
  const shown = await widgetState(page, '#captcha');
  assert.equal(shown.status, 'Verification expired. Select to verify again.');
  assert.equal(shown.checked, 'false');
  assert.equal(shown.disabled, false);
  assert.equal(shown.field, '', 'the expired token left the form');
  assert.equal(await page.evaluate(() => window.oculto.getResponse(window.app.id) ?? null), null);
  await sleep(500);
  assert.equal((await page.evaluate(() => window.app.verified.length)), 1, 'no new token by itself');

  await me.click('#captcha .check');
  const verified = await waitForEvent(page, 'oculto:verified', 2);
  assert.notEqual(verified[1].detail, first);
  assert.equal((await widgetState(page, '#captcha')).label, 'Verified');
  assert.deepEqual(problems(page), []);
});

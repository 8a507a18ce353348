// Case 5: the verifier goes down after the page loaded. The widget shows its
// error state (the message in its shadow root, a visible retry button),
// calls the page's error-callback, and the form does not leave without a
// token. When the verifier is back, Retry gets a token and the form goes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  Person,
  Verifier,
  launch,
  open,
  record,
  requireWidget,
  sleep,
  waitForEvent,
  widgetRendered,
  widgetState,
  startStack,
  TOKEN_CASE_THRESHOLD,
} from '../harness.mjs';

let verifier;
let browser;
let site;
let keys;
let stack;

before(async () => {
  requireWidget();
  ({ verifier, site, keys } = stack = await startStack(import.meta.dirname, { threshold: TOKEN_CASE_THRESHOLD }));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

test('verifier down: error state, error-callback, no submit without a token; Retry recovers', async (t) => {
  const page = await open(browser);
  await page.goto(`${site.origin}/`);
  await widgetRendered(page);
  const { port, dir } = verifier;
  await verifier.stop({ hard: true });

  const me = new Person(page);
  await me.wander(2);
  const [error] = await waitForEvent(page, 'oculto:error');
  assert.equal(error.detail, 'network');
  assert.deepEqual(await page.evaluate(() => window.ocultoErrors), ['network'], 'error-callback called once');
  let shown = await widgetState(page);
  assert.equal(shown.status, 'Cannot reach the verification service.');
  assert.equal(shown.retryVisible, true, 'the retry button shows');
  assert.equal(shown.checked, 'false');
  assert.equal(shown.field, '', 'no token in the form');
  assert.equal(await page.locator('.oculto button.action').first().innerText(), 'Retry');

  // The person submits anyway: the widget tries again, fails, and holds the form.
  await me.fill('#name', 'Ada');
  await me.click('button[type=submit]');
  await waitForEvent(page, 'oculto:error', 2);
  await sleep(500);
  assert.equal(site.posts.length, 0, 'the form did not leave');
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.locator('button[type=submit]').isDisabled(), false, 'the button is usable again');
  shown = await widgetState(page);
  assert.equal(shown.retryVisible, true);
  t.diagnostic(`error state: "${shown.label}" / "${shown.status}", error-callback codes ${JSON.stringify(await page.evaluate(() => window.ocultoErrors))}`);

  // The verifier is back on the same port, with the same database.
  verifier = stack.verifier = await Verifier.start({ port, dir });
  verifier.ownsDir = true; // the first one is gone: this one cleans up
  await me.click('.oculto button.action');
  await waitForEvent(page, 'oculto:verified');
  shown = await widgetState(page);
  assert.equal(shown.label, 'Verified');
  assert.equal(shown.retryVisible, false);
  const errors = (await record(page)).events.filter((e) => e.type === 'oculto:error').length;
  assert.equal(errors, 2, 'no error after recovery');
  await me.click('button[type=submit]');
  await page.waitForSelector('#received');
  assert.equal(site.posts.length, 1);
  const v = await verifier.verify(site.posts[0].form._co_verdict, keys.api_key);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.valid, true, JSON.stringify(v.body));
  assert.deepEqual(page.e2e.errors, [], 'no uncaught error on the page');
});

// Case 3: plain headless automation (navigator.webdriver is true) fills and
// submits a form by script, with no mouse, key or focus event at all. The
// bot must see success (phantom success: the widget says "Verified" and the
// form carries a token); only the backend learns, from /verify, that it was
// a bot.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  launch,
  open,
  problems,
  record,
  renderer,
  requireWidget,
  waitForEvent,
  widgetRendered,
  widgetState,
  startStack,
} from '../harness.mjs';

let verifier;
let browser;
let stealth;
let site;
let keys;
let stack;

before(async () => {
  requireWidget();
  ({ verifier, site, keys } = stack = await startStack(import.meta.dirname));
  browser = await launch({ human: false });
  stealth = await launch({ human: true, gpu: false });
});

after(async () => {
  await stealth?.close();
  await browser?.close();
  await stack?.close();
});

test('a headless script gets phantom success and /verify classifies it bot', async (t) => {
  const page = await open(browser);
  await page.goto(`${site.origin}/`);
  await widgetRendered(page);
  assert.equal(await page.evaluate(() => navigator.webdriver), true);

  await page.evaluate(() => {
    const form = document.querySelector('form');
    form.elements.name.value = 'Bot McBotface';
    form.elements.email.value = 'bot@ex.org';
    form.requestSubmit();
  });
  await page.frameLocator('iframe[name=result]').locator('#received').waitFor();
  const [sent] = await page.evaluate(() => window.submitted);
  assert.equal(sent.label, 'Verified', 'the widget showed success when the form left');
  assert.match(sent.field, /^ey[\w-]+\.[\w-]+\.[\w-]+$/, 'the form carried a token');
  assert.equal(site.posts.length, 1);
  assert.equal(site.posts[0].form._co_verdict, sent.field);
  assert.equal((await record(page)).firstInteraction, null, 'no trusted input at all');

  // The submitted token is spent: the page keeps the widget, which renews it.
  const events = await waitForEvent(page, 'oculto:verified', 2);
  assert.notEqual(events[1].detail, sent.field, 'a new token replaced the spent one');
  assert.equal((await widgetState(page)).field, events[1].detail);
  assert.equal((await record(page)).events.filter((e) => e.type === 'oculto:error').length, 0, 'no error shown');

  const v = await verifier.verify(sent.field, keys.api_key);
  t.diagnostic(`/verify: valid ${v.body.valid}, score ${v.body.score}, ${v.body.classification}, reasons [${v.body.reasons}]`);
  assert.equal(v.status, 200);
  assert.equal(v.body.classification, 'bot');
  assert.equal(v.body.valid, false);
  assert.ok(v.body.reasons.includes('webdriver'), 'reason webdriver');
  assert.ok(v.body.reasons.includes('no_interaction'), 'reason no_interaction');
  const gl = await renderer(page);
  assert.equal(v.body.reasons.includes('software_renderer'), gl.software, `software_renderer for ${gl.name}`);
  assert.deepEqual(problems(page), []);
});

// Stealth automation: no webdriver flag, a desktop user agent without
// "Headless", real trusted events with human-length presses and key delays,
// but Playwright's own clicks, which move the pointer to each element's
// exact centre in one step. The backend must not see a person.
test('stealth automation clicking with Playwright is not scored human, and says why', async (t) => {
  const page = await open(stealth);
  await page.goto(`${site.origin}/`);
  await widgetRendered(page);
  assert.equal(await page.evaluate(() => navigator.webdriver), false);
  assert.doesNotMatch(await page.evaluate(() => navigator.userAgent), /Headless/);

  await page.locator('#name').click({ delay: 90 });
  await page.keyboard.type('Ann Droid', { delay: 110 });
  await page.locator('#email').click({ delay: 80 });
  await page.keyboard.type('ann@ex.org', { delay: 95 });
  await waitForEvent(page, 'oculto:verified');
  await page.locator('button[type=submit]').click({ delay: 85 });
  await page.frameLocator('iframe[name=result]').locator('#received').waitFor();
  const [sent] = await page.evaluate(() => window.submitted);

  const v = await verifier.verify(sent.field, keys.api_key);
  t.diagnostic(`/verify: valid ${v.body.valid}, score ${v.body.score}, ${v.body.classification}, reasons [${v.body.reasons}]`);
  assert.equal(v.status, 200);
  assert.notEqual(v.body.classification, 'human', JSON.stringify(v.body));
  assert.ok(v.body.reasons.includes('centred_presses'), `reason centred_presses: ${v.body.reasons}`);
  // This machine's own renderer, as automation on a server shows it.
  const gl = await renderer(page);
  t.diagnostic(`WebGL renderer: ${gl.name}`);
  assert.equal(v.body.reasons.includes('software_renderer'), gl.software, `software_renderer for ${gl.name}`);
  assert.deepEqual(problems(page), []);
});

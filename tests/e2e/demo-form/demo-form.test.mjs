// Case 1: the demo sign-up form (`oculto serve --demo`), filled by a person
// with real pointer moves, clicks and typing. The demo's backend checks the
// verdict with /verify and must find a human.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  Person,
  Verifier,
  launch,
  open,
  problems,
  requireWidget,
  waitForEvent,
  widgetRendered,
  widgetState,
} from '../harness.mjs';

let verifier;
let browser;

before(async () => {
  requireWidget();
  verifier = await Verifier.start({ demo: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await verifier?.close();
});

test('a person signs up on the demo form and the backend sees a valid human', async (t) => {
  const page = await open(browser);
  await page.goto(`${verifier.url}/`);
  await widgetRendered(page);
  assert.equal((await widgetState(page)).label, 'Verify you are human');

  const me = new Person(page);
  await me.wander(2);
  await me.fill('#name', 'Ada King');
  await me.fill('#email', 'ada@ex.org');
  await me.fill('#password', 'engine 1843');
  await waitForEvent(page, 'oculto:verified');
  const before = await widgetState(page);
  assert.equal(before.label, 'Verified', 'the widget verified while the person filled the form');
  assert.match(before.field, /^ey[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT is in _co_verdict');

  await me.click('button[type=submit]');
  await page.waitForURL('**/demo/submit');
  assert.match(await page.locator('h1').innerText(), /Account created/);
  const answer = JSON.parse(await page.locator('details pre').textContent());
  t.diagnostic(`demo backend: valid ${answer.valid}, score ${answer.score}, ${answer.classification}, reasons [${answer.reasons}]`);
  // The Person's mouse is scripted curves: the behaviour model may find it
  // suspicious, never a bot from behaviour alone.
  assert.equal(answer.valid, true, JSON.stringify(answer));
  assert.notEqual(answer.classification, 'bot');
  assert.ok(answer.score <= 50, `score ${answer.score}`);
  assert.equal(answer.action, 'signup');
  assert.equal(answer.hostname, '127.0.0.1');
  assert.deepEqual(problems(page), []);
});

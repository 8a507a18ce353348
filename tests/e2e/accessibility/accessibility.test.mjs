// Case 7: accessibility. axe-core, run on the widget (its host and open
// shadow root), finds no violation in any state: idle, verifying (held by
// delaying /init), verified and error, in the light and dark themes. And the
// widget can be completed with the keyboard alone: Tab to the checkbox,
// Space (or Enter) to verify, Tab to the button, Enter to submit.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  Person,
  ROOT,
  launch,
  open,
  requireWidget,
  waitForEvent,
  widgetRendered,
  widgetState,
  startStack,
} from '../harness.mjs';

const AXE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');

let verifier;
let browser;
let site;
let keys;
let stack;

before(async () => {
  requireWidget();
  ({ verifier, site, keys } = stack = await startStack(import.meta.dirname));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/**
 * Runs axe on the widget; resolves with its violations (id, impact, the
 * nodes' targets) and how many checks passed inside the shadow root.
 */
async function axe(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document.querySelector('.oculto'), { resultTypes: ['violations', 'passes'] });
    return {
      violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target) })),
      // A target that is an array of selectors points into a shadow root.
      shadowPasses: r.passes.filter((p) => p.nodes.some((n) => Array.isArray(n.target[0]) || n.target.length > 1)).length,
    };
  });
}

/** Asserts axe finds nothing in the state `name`; notes how much it checked. */
async function clean(t, page, name) {
  const r = await axe(page);
  assert.deepEqual(r.violations, [], `axe violations in the ${name} state`);
  assert.ok(r.shadowPasses > 0, `axe looked inside the shadow root (${name})`);
  t.diagnostic(`${name}: no violation, ${r.shadowPasses} rules passed inside the shadow root`);
}

for (const theme of ['light', 'dark']) {
  test(`axe: no violation in the idle, verifying, verified and error states (${theme})`, async (t) => {
    const page = await open(browser);
    // /init waits until the test lets it go, to hold the verifying state.
    let release;
    const held = new Promise((r) => (release = r));
    await page.route(`${verifier.url}/init`, async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${site.origin}/?theme=${theme}`);
    await widgetRendered(page);
    await clean(t, page, 'idle');

    const me = new Person(page);
    await me.wander(1);
    await page.waitForFunction(() => document.querySelector('.oculto').shadowRoot.querySelector('.check').getAttribute('aria-checked') === 'mixed');
    assert.equal((await widgetState(page)).status, 'Verifying…');
    await clean(t, page, 'verifying');
    release();
    await waitForEvent(page, 'oculto:verified');
    await clean(t, page, 'verified');

    const failing = await open(browser);
    await failing.route(`${verifier.url}/init`, (route) => route.abort('connectionrefused'));
    await failing.goto(`${site.origin}/?theme=${theme}`);
    await widgetRendered(failing);
    await new Person(failing).wander(1);
    await waitForEvent(failing, 'oculto:error');
    assert.equal((await widgetState(failing)).retryVisible, true);
    await clean(t, failing, 'error');
    await page.context().close();
    await failing.context().close();
  });
}

/** Where the keyboard focus is: a selector-ish name, looking into the widget's shadow root. */
function focused(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    const inner = a?.shadowRoot?.activeElement;
    if (inner) return `.oculto ${inner.tagName.toLowerCase()}.${inner.className}`;
    return a ? `${a.tagName.toLowerCase()}${a.type ? `[type=${a.type}]` : ''}` : 'none';
  });
}

for (const key of ['Space', 'Enter']) {
  test(`keyboard only: Tab to the checkbox, ${key}, Tab, Enter submits with a good token`, async (t) => {
    const page = await open(browser);
    // execution "execute": nothing starts before the checkbox is pressed.
    await page.goto(`${site.origin}/?execution=execute`);
    await widgetRendered(page);
    site.posts.length = 0;
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), '.oculto button.check', 'Tab reaches the checkbox');
    assert.equal((await widgetState(page)).checked, 'false');
    assert.equal((await page.evaluate(() => window.__e2e.events.length)), 0, 'nothing started on focus');
    await page.keyboard.press(key, { delay: 80 });
    const [verified] = await waitForEvent(page, 'oculto:verified');
    const shown = await widgetState(page);
    assert.equal(shown.checked, 'true');
    assert.equal(shown.field, verified.detail);
    const after = await focused(page);
    await page.keyboard.press('Tab');
    const next = await focused(page);
    t.diagnostic(`focus after verifying: ${after}; after one more Tab: ${next}`);
    assert.equal(next, 'button[type=submit]', 'Tab goes on to the submit button');
    await enterSubmitsAGoodToken(page, t);
  });
}

/** Enter on the focused submit button sends a token that /verify accepts. */
async function enterSubmitsAGoodToken(page, t) {
  await page.keyboard.press('Enter', { delay: 80 });
  await page.waitForSelector('#received');
  const v = await verifier.verify(site.posts[0].form._co_verdict, keys.api_key);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.valid, true, JSON.stringify(v.body));
  t.diagnostic(`/verify: valid ${v.body.valid}, score ${v.body.score} ${v.body.classification} [${v.body.reasons}]`);
  await page.context().close();
}

test('keyboard only, default execution: Tab starts it, Tab and Enter submit with a good token', async (t) => {
  const page = await open(browser);
  await page.goto(`${site.origin}/`);
  await widgetRendered(page);
  site.posts.length = 0;
  await page.keyboard.press('Tab');
  await waitForEvent(page, 'oculto:verified');
  const where = await focused(page);
  await page.keyboard.press('Tab');
  const next = await focused(page);
  t.diagnostic(`focus once verified: ${where}; after one more Tab: ${next}`);
  assert.equal(next, 'button[type=submit]');
  await enterSubmitsAGoodToken(page, t);
});

test(
  'keyboard focus stays on the checkbox once it is verified',
  async () => {
    const page = await open(browser);
    await page.goto(`${site.origin}/?execution=execute`);
    await widgetRendered(page);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space', { delay: 80 });
    await waitForEvent(page, 'oculto:verified');
    const where = await focused(page);
    await page.context().close();
    assert.equal(where, '.oculto button.check');
  },
);

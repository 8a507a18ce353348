// How the scorer does against an off-the-shelf humanised cursor (issue 5),
// run by `make bench` (bench/solvers.sh). It prints figures and never
// judges them.
//
// ghost-cursor drives a puppeteer page the way its README shows: each
// click moves along a Bezier curve with a Fitts's-law number of points,
// overshooting far targets, and lands on a random point of the element.
// The browser is dressed as stealth automation dresses it: no webdriver
// flag (`--disable-blink-features=AutomationControlled`), a user agent
// without "Headless", a 1366 x 768 window. Each run fills the demo sign-up
// form (`oculto serve --demo`) with typing at uneven, human-paced delays,
// submits it, and reads what the demo backend's /verify answered.
//
// Settings (environment): SOLVER_RUNS (default 20), OCULTO_BIN (the binary
// to serve; bench/solvers.sh builds a release one).
import puppeteer from 'puppeteer-core';
import { createCursor } from 'ghost-cursor';

import { CHROMIUM, CHROMIUM_ARGS, Verifier, random, requireWidget, sleep } from '../tests/e2e/harness.mjs';

const RUNS = Number(process.env.SOLVER_RUNS || 20);
const rnd = random(Number(process.env.SOLVER_SEED || 11));
const between = (lo, hi) => lo + rnd() * (hi - lo);

/** One stealth session through the demo form: the backend's /verify answer. */
async function session(url) {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, '--disable-blink-features=AutomationControlled', '--window-size=1366,768'],
    defaultViewport: null,
  });
  try {
    const page = await browser.newPage();
    await page.setUserAgent((await browser.userAgent()).replace('HeadlessChrome', 'Chrome'));
    await page.goto(url);
    await page.waitForSelector('.oculto');
    const cursor = createCursor(page, { x: between(50, 600), y: between(50, 400) });
    await sleep(between(500, 1500));
    for (const [field, text] of [['#name', 'Ada King'], ['#email', 'ada@ex.org'], ['#password', 'engine 1843']]) {
      await cursor.click(field, { hesitate: between(50, 150), waitForClick: between(60, 140) });
      await sleep(between(200, 500));
      for (const ch of text) {
        await page.keyboard.type(ch, { delay: between(40, 110) });
        await sleep(between(30, 150));
      }
    }
    await page
      .waitForFunction(() => document.querySelector('input[name=_co_verdict]')?.value?.startsWith('ey'), {
        timeout: 30_000,
      })
      .catch(() => {});
    await cursor.click('button[type=submit]', { hesitate: between(50, 150), waitForClick: between(60, 140) });
    try {
      await page.waitForSelector('details pre', { timeout: 30_000 });
    } catch {
      // The form did not go: say what the widget showed.
      const shown = await page
        .$eval('.oculto', (e) => (e.shadowRoot || e).textContent.replace(/\s+/g, ' ').trim())
        .catch(() => '?');
      return { failed: `no answer from the demo backend; the widget showed "${shown.slice(0, 120)}"` };
    }
    return JSON.parse(await page.$eval('details pre', (e) => e.textContent));
  } finally {
    await browser.close();
  }
}

requireWidget();
const verifier = await Verifier.start({ demo: true });
const answers = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const a = await session(`${verifier.url}/`);
    const n = String(i + 1).padStart(2);
    if (a.failed) {
      console.log(`run ${n}: ${a.failed}`);
      continue;
    }
    answers.push(a);
    console.log(`run ${n}: score ${String(a.score).padStart(3)} ${a.classification.padEnd(10)} [${a.reasons}]`);
  }
} finally {
  await verifier.close();
}
const share = (c) => `${((100 * answers.filter((a) => a.classification === c).length) / answers.length).toFixed(0)}%`;
const scores = answers.map((a) => a.score).sort((x, y) => x - y);
console.log(
  `ghost-cursor, stealth: ${answers.length} of ${RUNS} runs answered: human ${share('human')}, suspicious ${share('suspicious')}, ` +
    `bot ${share('bot')}; median score ${scores[Math.floor(scores.length / 2)]}`,
);

// Real people's pointer input, replayed through Chromium with Playwright
// (issue 5): the honest check that "human input driven through automation,
// with no automation flags" is not scored `bot` from behaviour alone.
//
// The units are recorded people (the Balabit and DELBOT humans in
// ../shared/data, or OCULTO_DATA), cut into click sequences and re-timed
// onto a browser's 60 Hz clock by `oculto eval prepare`, exactly as the
// evaluation does. Each unit is replayed on a plain page: its moves through
// `page.mouse.move`, its presses through `down`/`up`, its wheel ticks
// through `wheel`, each at its recorded time. The widget (execution
// `execute`) records them as it records anyone, then the page calls
// `oculto.execute()` and the backend's /verify gives the score.
//
// The data is never copied into the project: without it, the case skips
// and says why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  ROOT,
  launch,
  ocultoBin,
  open,
  requireWidget,
  sleep,
  startStack,
  tempDir,
  widgetRendered,
} from '../harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = process.env.OCULTO_DATA || path.join(ROOT, '../shared/data');
const FILES = [path.join(DATA, 'human-traces/balabit.jsonl'), path.join(DATA, 'bot-traces/delbot.jsonl')];
const MISSING = FILES.filter((f) => !fs.existsSync(f));
/** Units replayed: one per person or device, up to this many. */
const UNITS = 10;
/** Longest unit replayed, ms of recorded time. */
const MAX_UNIT_MS = 10_000;
/** Room around a unit's path in the viewport, px. */
const MARGIN = 10;

/**
 * Click-sequence units from the data, neutralised as `make bench` does, one
 * per person or device: mouse units (no touch), 0.8 to 10 s long, that fit
 * a 1920×1080 screen.
 */
function pickUnits(dir) {
  const out = path.join(dir, 'units.jsonl');
  const args = ['eval', 'prepare', '--label', 'human', '--mode', 'clicks', '--seed', '5', '--out', out];
  for (const f of FILES) args.push('--in', f);
  const r = spawnSync(ocultoBin(), args, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oculto eval prepare failed: ${r.stderr}`);
  const seen = new Set();
  const picked = [];
  for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
    if (!line.trim() || picked.length >= UNITS) continue;
    const u = JSON.parse(line);
    const who = `${u.source}:${u.user}`;
    const ev = u.events;
    const span = ev.at(-1)[0] - ev[0][0];
    const xs = ev.map((e) => e[2]);
    const ys = ev.map((e) => e[3]);
    const w = Math.max(...xs) - Math.min(...xs);
    const h = Math.max(...ys) - Math.min(...ys);
    const mouse = ev.every((e) => ['move', 'down', 'up', 'wheel'].includes(e[1]));
    const presses = ev.filter((e) => e[1] === 'down').length;
    if (seen.has(who) || !mouse || presses < 1 || span < 800 || span > MAX_UNIT_MS || w > 1900 || h > 1060) continue;
    seen.add(who);
    picked.push(u);
  }
  return picked;
}

/** Replays `unit` on `page`, each event at its recorded time. */
async function replay(page, unit, dx, dy) {
  const t0 = unit.events[0][0];
  const start = performance.now();
  let late = 0;
  for (const [t, type, x, y, extra] of unit.events) {
    const wait = start + (t - t0) - performance.now();
    if (wait > 1) await sleep(wait);
    else late = Math.max(late, -wait);
    const [px, py] = [x + dx, y + dy];
    if (type === 'move') await page.mouse.move(px, py);
    else if (type === 'down') await page.mouse.move(px, py).then(() => page.mouse.down());
    else if (type === 'up') await page.mouse.move(px, py).then(() => page.mouse.up());
    else if (type === 'wheel') await page.mouse.wheel(0, 100 * (extra || 1));
  }
  return late;
}

let stack;
let browser;
let dir;
let units = [];

before(async () => {
  if (MISSING.length) return;
  requireWidget();
  dir = tempDir('oculto-e2e-replay-');
  units = pickUnits(dir);
  stack = await startStack(HERE);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await stack?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('real people replayed through Playwright are not scored bot from behaviour', async (t) => {
  if (MISSING.length) {
    t.skip(`no human traces (${MISSING.join(', ')} missing; set OCULTO_DATA)`);
    return;
  }
  assert.ok(units.length >= 4, `only ${units.length} units to replay`);
  const results = [];
  for (const unit of units) {
    const xs = unit.events.map((e) => e[2]);
    const ys = unit.events.map((e) => e[3]);
    const [minX, minY] = [Math.min(...xs), Math.min(...ys)];
    const viewport = {
      width: Math.max(800, Math.ceil(Math.max(...xs) - minX) + 2 * MARGIN),
      height: Math.max(600, Math.ceil(Math.max(...ys) - minY) + 2 * MARGIN),
    };
    const page = await open(browser, { viewport });
    await page.goto(`${stack.site.origin}/`);
    await widgetRendered(page);
    const late = await replay(page, unit, MARGIN - minX, MARGIN - minY);
    const token = await page.evaluate(() => window.oculto.execute());
    const { status, body } = await stack.verifier.verify(token, stack.keys.api_key);
    await page.context().close();
    assert.equal(status, 200, JSON.stringify(body));
    const who = `${unit.source}:${unit.user} ${unit.session}`;
    t.diagnostic(
      `${who}: ${unit.events.length} events over ${Math.round(unit.duration_ms)} ms (replay up to ${Math.round(late)} ms late): ` +
        `score ${body.score} ${body.classification} [${body.reasons}]`,
    );
    results.push({ who, ...body });
  }
  const bots = results.filter((r) => r.classification === 'bot');
  assert.deepEqual(
    bots.map((r) => `${r.who}: ${r.score} [${r.reasons}]`),
    [],
    'a person replayed through the browser was scored bot',
  );
});

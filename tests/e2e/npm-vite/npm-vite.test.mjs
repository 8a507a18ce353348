// Case 6: the npm package as a consumer gets it. `npm pack` the repository,
// install the tarball into a scratch Vite project in a temporary folder
// (`import { configure, render } from 'oculto-widget'`), `vite build`, serve
// the build from the site's origin and load it in Chromium: the widget
// renders, solves in the worker the bundler emitted, and its token passes
// /verify.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  Person,
  ROOT,
  SiteServer,
  Verifier,
  launch,
  open,
  problems,
  requireWidget,
  tempDir,
  waitForEvent,
  widgetRendered,
  TOKEN_CASE_THRESHOLD,
} from '../harness.mjs';

const CASE = import.meta.dirname;
/** The Vite the scratch project uses. */
const VITE = 'vite@8';

let verifier;
let browser;
let site;
let scratch;

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

before(async () => {
  requireWidget();
  scratch = tempDir('oculto-e2e-vite-');
  verifier = await Verifier.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await verifier?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('npm pack -> Vite build -> the widget renders and its token passes /verify', async (t) => {
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], ROOT));
  const tarball = path.join(scratch, packed.filename);
  const files = packed.files.map((f) => f.path);
  for (const f of ['package.json', 'pkg/index.js', 'pkg/index.d.ts', 'pkg/worker.js', 'pkg/oculto_widget_bg.wasm']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }

  const app = path.join(scratch, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  for (const f of ['index.html', 'main.js']) fs.copyFileSync(path.join(CASE, f), path.join(app, f));
  try {
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', VITE, tarball], app);
  } catch (e) {
    if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH/.test(String(e.stderr))) {
      t.skip(`no npm registry to install ${VITE} from`);
      return;
    }
    throw new Error(`npm install failed:\n${e.stderr}`);
  }
  const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/oculto-widget/package.json'), 'utf8'));
  assert.ok(fs.existsSync(path.join(app, 'node_modules/oculto-widget', installed.types)), 'the types resolve');
  const built = run(path.join(app, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], app);
  const viteVersion = JSON.parse(fs.readFileSync(path.join(app, 'node_modules/vite/package.json'), 'utf8')).version;
  const assets = fs.readdirSync(path.join(app, 'dist/assets'));
  t.diagnostic(`vite ${viteVersion} built: ${assets.join(', ')}${built.trim() ? `\n${built.trim()}` : ''}`);
  assert.ok(assets.some((a) => a.endsWith('.wasm')), 'the wasm is an asset');

  site = await SiteServer.start(path.join(app, 'dist'));
  const keys = await verifier.addSite(site.origin, 'e2e', { threshold: TOKEN_CASE_THRESHOLD });
  const page = await open(browser);
  let workers = 0;
  page.on('worker', () => workers++);
  const query = new URLSearchParams({ verifier: verifier.url, sitekey: keys.site_key });
  await page.goto(`${site.origin}/?${query}`);
  await widgetRendered(page, '#captcha');
  const me = new Person(page);
  await me.wander(3);
  const [verified] = await waitForEvent(page, 'oculto:verified');
  assert.equal(await page.evaluate(() => window.getToken()), verified.detail);
  assert.equal(await page.evaluate(() => window.token), verified.detail, 'the callback got the token');
  assert.ok(workers > 0, 'the proof of work ran in the bundled worker');

  const v = await verifier.verify(verified.detail, keys.api_key);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.valid, true, JSON.stringify(v.body));
  assert.equal(v.body.action, 'vite');
  t.diagnostic(`/verify: valid ${v.body.valid}, score ${v.body.score} ${v.body.classification}`);
  assert.deepEqual(problems(page), []);
});

#!/usr/bin/env node
// Runs the browser end-to-end suite: `node tests/e2e/run.mjs [case...]`.
//
// It builds what the cases share once, then hands over to node's test
// runner, whose output (TAP, with the `# tests / # pass / # fail` closing
// lines) it passes through unchanged:
//
// 1. the widget (`scripts/build-widget.sh`), only when `pkg/dist` is missing
//    or older than the widget's or the shared crate's sources;
// 2. the verifier (`cargo build -p oculto-verifier`), whose path goes to the
//    cases in `OCULTO_BIN` so none of them builds it again;
// 3. `node --test` over `tests/e2e/<case>/*.test.mjs`, every case or the ones
//    named.
//
// `make e2e` does the same steps from the Makefile.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT } from './harness.mjs';

const HERE = path.join(ROOT, 'tests/e2e');

/** The newest modification time under `p` (a file or a folder), ms. */
function newest(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))));
}

function step(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const manifest = path.join(ROOT, 'pkg/dist/manifest.json');
const sources = ['widget/src', 'widget/js', 'widget/Cargo.toml', 'shared/src', 'scripts/build-widget.sh'];
if (!fs.existsSync(manifest) || newest(manifest) < Math.max(...sources.map((s) => newest(path.join(ROOT, s))))) {
  step('scripts/build-widget.sh', []);
}
step('cargo', ['build', '--quiet', '-p', 'oculto-verifier', '--bin', 'oculto']);

const wanted = process.argv.slice(2);
const cases = fs
  .readdirSync(HERE, { withFileTypes: true })
  .filter((d) => d.isDirectory() && (wanted.length === 0 || wanted.includes(d.name)))
  .map((d) => d.name);
const unknown = wanted.filter((w) => !cases.includes(w));
if (unknown.length) {
  console.error(`no such case: ${unknown.join(', ')}`);
  process.exit(2);
}
const files = cases.flatMap((c) =>
  fs.readdirSync(path.join(HERE, c)).filter((f) => f.endsWith('.test.mjs')).map((f) => path.join(HERE, c, f)),
);
step(process.execPath, ['--test', ...files], { OCULTO_BIN: path.join(ROOT, 'target/debug/oculto') });

// The npm entry: an ES module. Bundlers (Vite, webpack, Rollup) pick up the
// worker and the wasm through the `new URL(..., import.meta.url)` patterns.
import { configure } from './api.js';

configure({
  createWorker: () => new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }),
});

export { configure, ready, render, reset, getResponse, execute, remove, renderAll, isExpired } from './api.js';

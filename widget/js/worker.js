// The proof-of-work worker: the same wasm, solving off the page's main thread.
import init, { workerSolve } from './oculto_widget.js';

const loaded = init();
self.onmessage = (e) => loaded.then(() => workerSolve(e.data));

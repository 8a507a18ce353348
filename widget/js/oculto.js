// The script-tag loader: <script src="https://VERIFIER/widget/oculto.js" async defer>.
// It loads the widget's ES module and wasm from beside itself, renders every
// .oculto element, and exposes window.oculto (render, reset, getResponse,
// execute, remove). data-render="explicit" on the script tag skips the
// automatic rendering; data-onload="fnName" is called once ready.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.oculto) return;
  var base = new URL('.', script.src);
  var apiUrl = new URL('__API__', base).href;
  var glueUrl = new URL('__GLUE__', base).href;
  var wasmUrl = new URL('__WASM__', base).href;
  var verifier = script.getAttribute('data-verifier') || new URL('..', base).href.replace(/\/$/, '');
  var queue = [];
  var api = null;

  // A cross-origin script cannot start a worker from its own URL, but a
  // blob: module worker can import the glue, if the page's CSP allows
  // worker-src blob:. When it does not, the widget solves on the main thread
  // in short slices instead.
  function createWorker() {
    var src = 'import init, { workerSolve } from ' + JSON.stringify(glueUrl) + ';\n' +
      'const loaded = init({ module_or_path: ' + JSON.stringify(wasmUrl) + ' });\n' +
      'self.onmessage = (e) => loaded.then(() => workerSolve(e.data));\n';
    var url = URL.createObjectURL(new Blob([src], { type: 'text/javascript' }));
    try {
      return new Worker(url, { type: 'module' });
    } finally {
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }
  }

  function call(name, args) {
    if (api) return api[name].apply(null, args);
    return new Promise(function (resolve, reject) { queue.push([name, args, resolve, reject]); });
  }

  window.oculto = {
    render: function () { return call('render', arguments); },
    reset: function () { return call('reset', arguments); },
    getResponse: function (id) { return api ? api.getResponse(id) : undefined; },
    execute: function () { return call('execute', arguments); },
    remove: function () { return call('remove', arguments); },
    ready: function () { return call('ready', []); },
  };

  import(apiUrl).then(function (m) {
    m.configure({ verifier: verifier, createWorker: createWorker, wasm: wasmUrl });
    return m.ready().then(function () { return m; });
  }).then(function (m) {
    api = m;
    queue.splice(0).forEach(function (q) {
      Promise.resolve(m[q[0]].apply(null, q[1])).then(q[2], q[3]);
    });
    var go = function () {
      var done = script.getAttribute('data-render') === 'explicit' ? Promise.resolve() : m.renderAll();
      done.then(function () {
        var onload = script.getAttribute('data-onload');
        if (onload && typeof window[onload] === 'function') window[onload]();
      });
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go);
    else go();
  }).catch(function (e) {
    console.error('oculto: the widget could not load', e);
    document.querySelectorAll('.oculto').forEach(function (el) {
      el.setAttribute('data-oculto-error', 'load');
      el.dispatchEvent(new CustomEvent('oculto:error', { detail: 'load', bubbles: true }));
      var cb = el.getAttribute('data-error-callback');
      if (cb && typeof window[cb] === 'function') window[cb]('load');
    });
  });
})();

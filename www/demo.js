// A stand-in client for the demo page until the wasm widget lands: it opens a
// session, solves the proof of work, sends timing signals (never what was
// typed) and puts the verdict into the form's hidden _co_verdict field.
'use strict';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// SHA-256 of a byte array; returns the first 32-bit word of the digest,
// which is all the leading-zero check needs for difficulties up to 32.
function sha256FirstWord(bytes) {
  const len = bytes.length;
  const blocks = ((len + 9 + 63) >> 6);
  const m = new Uint8Array(blocks * 64);
  m.set(bytes);
  m[len] = 0x80;
  const bits = len * 8;
  m[m.length - 4] = bits >>> 24; m[m.length - 3] = bits >>> 16; m[m.length - 2] = bits >>> 8; m[m.length - 1] = bits;
  let h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a;
  let h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  const w = new Uint32Array(64);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < 16; i++) {
      const o = b * 64 + i * 4;
      w[i] = (m[o] << 24) | (m[o + 1] << 16) | (m[o + 2] << 8) | m[o + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h0, bb = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + bb) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  return h0 >>> 0;
}

// The preimage of shared/src/pow.rs: tag, then each field behind its length
// byte, then the nonce as 8 bytes big-endian.
function preimage(sessionId, siteKey, salt) {
  const enc = new TextEncoder();
  const parts = [enc.encode('oculto-pow-v1')];
  for (const f of [sessionId, siteKey, salt]) {
    const b = enc.encode(f);
    parts.push(Uint8Array.of(b.length), b);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total + 8);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// Solves in slices of ~8 ms so the page never stutters.
async function solve(sessionId, siteKey, challenge) {
  const buf = preimage(sessionId, siteKey, challenge.salt);
  const n = buf.length - 8;
  const d = challenge.difficulty;
  const mask = d === 0 ? 0 : (0xffffffff << (32 - d)) >>> 0;
  const started = performance.now();
  for (let nonce = 0; ; ) {
    const sliceEnd = performance.now() + 8;
    while (performance.now() < sliceEnd) {
      for (let k = 0; k < 512; k++, nonce++) {
        const hi = Math.floor(nonce / 0x100000000), lo = nonce >>> 0;
        buf[n] = hi >>> 24; buf[n + 1] = hi >>> 16; buf[n + 2] = hi >>> 8; buf[n + 3] = hi;
        buf[n + 4] = lo >>> 24; buf[n + 5] = lo >>> 16; buf[n + 6] = lo >>> 8; buf[n + 7] = lo;
        if ((sha256FirstWord(buf) & mask) === 0) {
          return { nonce, elapsed_ms: Math.round(performance.now() - started) };
        }
      }
    }
    await new Promise((r) => setTimeout(r, 0));
  }
}

const t0 = performance.now();
const now = () => Math.round((performance.now() - t0) * 10) / 10;
const signals = { v: 1, pointer: [], clicks: [], keys: [], scroll: [], touch: [], focus: [], visibility: [], pastes: 0, untrusted_events: 0 };
let lastMove = 0;
const downs = new Map();
function trusted(e) { if (!e.isTrusted) signals.untrusted_events++; return e.isTrusted; }
function firstInteraction() { if (signals.first_interaction_ms == null) signals.first_interaction_ms = now(); }
addEventListener('pointermove', (e) => {
  if (!trusted(e) || e.pointerType === 'touch') return;
  const t = now();
  if (t - lastMove < 16 || signals.pointer.length >= 2000) return;
  lastMove = t; firstInteraction();
  signals.pointer.push({ t, k: 'move', x: e.clientX, y: e.clientY });
}, { passive: true });
addEventListener('pointerdown', (e) => { if (trusted(e)) { firstInteraction(); downs.set('p', now()); signals.pointer.push({ t: now(), k: 'down', x: e.clientX, y: e.clientY }); } });
addEventListener('pointerup', (e) => {
  if (!trusted(e)) return;
  const t = now();
  signals.pointer.push({ t, k: 'up', x: e.clientX, y: e.clientY });
  if (downs.has('p') && signals.clicks.length < 500) signals.clicks.push({ t: downs.get('p'), dwell: t - downs.get('p'), x: e.clientX, y: e.clientY });
  downs.delete('p');
});
// Only timings: which key was pressed is never looked at.
addEventListener('keydown', (e) => { if (trusted(e) && !e.repeat) { firstInteraction(); downs.set('k', now()); } });
addEventListener('keyup', (e) => { if (trusted(e) && downs.has('k') && signals.keys.length < 500) { signals.keys.push({ t: downs.get('k'), dwell: now() - downs.get('k') }); downs.delete('k'); } });
addEventListener('paste', () => { signals.pastes++; });
document.addEventListener('visibilitychange', () => signals.visibility.push({ t: now(), visible: document.visibilityState === 'visible' }));

function environment() {
  const ua = navigator.userAgentData;
  return {
    webdriver: !!navigator.webdriver, user_agent: navigator.userAgent,
    ua_platform: ua ? ua.platform : null, ua_mobile: ua ? ua.mobile : null,
    ua_brands: ua ? ua.brands.map((b) => `${b.brand}/${b.version}`) : [],
    languages: Array.from(navigator.languages || []), screen: [screen.width, screen.height],
    window: [innerWidth, innerHeight], pixel_ratio: devicePixelRatio || 1,
    hardware_concurrency: navigator.hardwareConcurrency || 0, max_touch_points: navigator.maxTouchPoints || 0,
    reduced_motion: matchMedia('(prefers-reduced-motion: reduce)').matches,
  };
}

async function post(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(json.message || res.statusText);
  return json;
}

document.addEventListener('DOMContentLoaded', async () => {
  const form = document.getElementById('signup');
  const status = document.getElementById('status');
  const button = document.getElementById('submit');
  const box = form.querySelector('.oculto');
  const field = document.createElement('input');
  field.type = 'hidden'; field.name = '_co_verdict';
  form.appendChild(field);
  const { site_key: siteKey } = await (await fetch('/demo/config.json')).json();
  form.addEventListener('submit', async (ev) => {
    if (field.value) return;
    ev.preventDefault();
    button.disabled = true;
    status.textContent = 'Verifying…';
    try {
      const init = await post('/init', { site_key: siteKey, action: box.dataset.action });
      const pow = await solve(init.session_id, siteKey, init.challenge);
      signals.elapsed_ms = now();
      signals.env = environment();
      const scored = await post('/score', { session_id: init.session_id, pow, signals });
      field.value = scored.verdict;
      status.textContent = 'Verified.';
      form.submit();
    } catch (e) {
      status.textContent = `Verification failed: ${e.message}. Please try again.`;
      button.disabled = false;
    }
  });
});

// Copies ?execution=..., ?theme=... and ?language=... onto the widget's
// data-* attributes before the loader renders it.
document.addEventListener('DOMContentLoaded', () => {
  const q = new URLSearchParams(location.search);
  const el = document.querySelector('.oculto');
  for (const k of ['execution', 'theme', 'language']) if (q.has(k)) el.dataset[k] = q.get(k);
});

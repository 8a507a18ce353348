// A single-page sign-up: the form never leaves the page; its handler reads
// the widget's token with getResponse() and posts it with fetch to the
// site's backend (/api/signup), which checks it with /verify.
//
// Query options: ?refresh=manual renders with refresh-expired "manual";
// ?early=1 registers the submit handler before the widget exists, as a page
// that loads its own script first does.
const params = new URLSearchParams(location.search);
const app = (window.app = { id: null, posts: [], results: [], verified: [], expired: 0 });
const form = document.getElementById('signup');

async function onSubmit(e) {
  // The widget holds a submit while it renews its token, then submits again.
  if (e.defaultPrevented) return;
  e.preventDefault();
  const token = window.oculto.getResponse(app.id);
  app.posts.push(token);
  const res = await fetch('/api/signup', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: form.elements.name.value, token }),
  });
  const body = await res.json();
  app.results.push(body);
  document.getElementById('result').textContent = body.valid ? 'Welcome!' : 'Not accepted';
}

if (params.has('early')) form.addEventListener('submit', onSubmit);

window.ocultoReady = async () => {
  app.id = await window.oculto.render('#captcha', {
    sitekey: '__SITE_KEY__',
    'refresh-expired': params.get('refresh') || 'auto',
    callback: (token) => app.verified.push(token),
    'expired-callback': () => app.expired++,
  });
  if (!params.has('early')) form.addEventListener('submit', onSubmit);
};

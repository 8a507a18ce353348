// A Vite app using the npm package, as its README shows. The test page
// passes the verifier and the site key in the query string.
import { configure, getResponse, render } from 'oculto-widget';

const q = new URLSearchParams(location.search);
configure({ verifier: q.get('verifier') });
window.widget = render('#captcha', {
  sitekey: q.get('sitekey'),
  action: 'vite',
  callback: (token) => {
    window.token = token;
  },
}).then((id) => {
  window.getToken = () => getResponse(id);
  return id;
});

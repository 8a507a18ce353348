// What the page sees when its form really leaves (the widget holds the first
// submit until it has a token, then submits again): the widget's label and
// the hidden field at that moment. Registered on window, so it runs after
// the widget's own listener on the form.
window.submitted = [];
window.addEventListener('submit', (e) => {
  if (e.defaultPrevented) return;
  const host = e.target.querySelector('.oculto');
  window.submitted.push({
    label: host.shadowRoot.querySelector('.label').textContent,
    field: e.target.querySelector('input[name="_co_verdict"]').value,
  });
});

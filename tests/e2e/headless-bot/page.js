// What the page sees when its form really leaves (the widget holds the first
// submit until it has a token, then submits again): the widget's label and
// the hidden field at that moment. `formdata` fires only when a submission
// builds its entry list, that is, when the form really goes.
window.submitted = [];
document.addEventListener('formdata', (e) => {
  const form = e.target;
  const host = form.querySelector('.oculto');
  window.submitted.push({
    label: host.shadowRoot.querySelector('.label').textContent,
    field: form.querySelector('input[name="_co_verdict"]').value,
  });
}, true);

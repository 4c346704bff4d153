// Forms with data-confirm ask before they are sent (retry, compensate, resolve, replay).
// A file of its own, not an inline script: the console's Content-Security-Policy is
// script-src 'self'.
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});

// Forms with data-confirm ask before they are sent (retry, compensate, resolve, replay).
// A file of its own, not an inline script: the console's Content-Security-Policy is
// script-src 'self'.
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});

// The home page's health panel asks for itself again every data-every seconds and is swapped
// in place: the page is not reloaded (the filters, the scroll position and a half-typed search
// stay). Without JavaScript the panel is as loaded.
(function () {
  var panel = document.getElementById("health");
  if (!panel || !panel.dataset.refresh) { return; }
  var every = Math.max(2, Number(panel.dataset.every) || 5) * 1000;
  window.setInterval(function () {
    var current = document.getElementById("health");
    fetch(current.dataset.refresh, { credentials: "same-origin", headers: { accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("health " + response.status); }
        return response.text();
      })
      .then(function (html) {
        document.getElementById("health").outerHTML = html;
        document.dispatchEvent(new CustomEvent("health-refreshed"));
      })
      .catch(function () { /* keep the last panel; the next tick tries again */ });
  }, every);
})();

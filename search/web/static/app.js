// Keyboard: "/" focuses the query box; Esc leaves it.
document.addEventListener("keydown", function (e) {
  var q = document.getElementById("q");
  if (!q) return;
  var t = e.target;
  var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
    e.preventDefault();
    q.focus();
    q.select();
  } else if (e.key === "Escape" && t === q) {
    q.blur();
  }
});

document.addEventListener("change", function (e) {
  var t = e.target;
  if (t && t.hasAttribute && t.hasAttribute("data-autosubmit") && t.form) t.form.submit();
});

document.addEventListener("submit", function (e) {
  var msg = e.target && e.target.getAttribute && e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});

document.addEventListener("click", function (e) {
  var a = e.target && e.target.closest && e.target.closest("a[data-back]");
  if (a && window.history.length > 1 && document.referrer.indexOf(location.origin) === 0) {
    e.preventDefault();
    window.history.back();
  }
});

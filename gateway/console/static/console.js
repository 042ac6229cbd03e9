// The console's little script: tick every payout of the review queue at once, ask before an
// action whose button says so (data-confirm), and send each form once (a double click, or a
// second click while the answer is on its way, sends nothing more). Everything works without
// it: the server checks every form, and refuses what was already decided.
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (box) { box.checked = all.checked; });
    });
  }
});

document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.method.toLowerCase() !== "post") {
    return;
  }
  if (form.dataset.sent) {
    event.preventDefault();  // sent already: this page's answer is on its way
    return;
  }
  var button = event.submitter;
  var ask = button && button.dataset.confirm;
  if (ask && !window.confirm(ask)) {
    event.preventDefault();
    return;
  }
  form.dataset.sent = "1";
});

// a page shown again by the back button may be sent again (the server says if it is stale)
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-sent]").forEach(function (form) { delete form.dataset.sent; });
});

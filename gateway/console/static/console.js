// The console's little script: tick every payout of the review queue at once, and ask before
// a bulk decision. Everything works without it (the server checks every form).
document.addEventListener("DOMContentLoaded", function () {
  var all = document.getElementById("all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (box) { box.checked = all.checked; });
    });
  }
});

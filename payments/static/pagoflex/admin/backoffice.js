/* Copy buttons next to read-only values (the webhook URL to give the bank). No dependencies. */
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) { return; }
  event.preventDefault();
  var input = document.getElementById(button.getAttribute("data-copy-target"));
  if (!input) { return; }
  input.select();
  var done = function () { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});

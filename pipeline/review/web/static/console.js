// Keyboard shortcuts for the console: a key clicks the button marked data-key="<key>" on the
// page (c claim, n claim next, f confirmed fraud, l legitimate, e escalate, / search). Keys
// typed into a field are the field's, never a shortcut.
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
  var target = event.target;
  var tag = target && target.tagName;
  if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) { return; }
  if (event.key === "/") {
    var search = document.getElementById("search-q");
    if (search) { event.preventDefault(); search.focus(); }
    return;
  }
  var button = document.querySelector('[data-key="' + event.key.toLowerCase() + '"]');
  if (button && !button.disabled) { event.preventDefault(); button.click(); }
});

// Progressive enhancement only: every page works without JavaScript.
// Selects marked data-autosubmit submit their form when changed (e.g. the genre filter).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form && select.form.submit());
  });
});

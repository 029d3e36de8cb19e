// Filters that apply as soon as they change: <select data-autosubmit> submits its form (no inline handlers, so the
// Content-Security-Policy can forbid inline scripts).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLElement && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.submit();
  }
});

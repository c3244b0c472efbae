// The print page's button (a script file, not an inline handler: the CSP allows no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-button");
  if (button) button.addEventListener("click", () => window.print());
});

// Reload the message template when the phase or audience changes, unless it was edited.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("tocsin-update-form");
  if (!form) return;
  const message = form.elements.message;
  const original = message.value;
  const reload = () => {
    if (message.value !== original) return;
    const params = new URLSearchParams({
      status: form.elements.status.value,
      public: form.elements.public.checked ? "1" : "0",
    });
    window.location.search = params.toString();
  };
  form.elements.status.addEventListener("change", reload);
  form.elements.public.addEventListener("change", reload);
});

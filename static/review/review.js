/* Keyboard review: one key per verdict, no double submissions.
 *
 * Buttons carry data-shortcut="m" (etc.); pressing the key submits the button's
 * form with that button as the submitter, exactly like a click. Keys are ignored
 * while typing in a text box (Esc leaves it); Ctrl+Enter in the corrected
 * description saves it. U undoes your last verdict; clicking the image zooms it.
 */
(function () {
  "use strict";

  let submitting = false;

  function submitWith(button) {
    if (!button || button.disabled || submitting) {
      return;
    }
    if (typeof button.form.requestSubmit === "function") {
      button.form.requestSubmit(button);
    } else {
      button.click();
    }
  }

  function isTyping(target) {
    const tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("submit", function (event) {
    if (!event.target.closest("#review")) {
      return;
    }
    if (submitting) {
      event.preventDefault(); // a double click or a second key press
      return;
    }
    submitting = true;
    // Disable after the browser has taken the submitter's value.
    window.setTimeout(function () {
      document.querySelectorAll("#review button").forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  // Coming back with the browser's Back button restores the page as it was left.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      submitting = false;
      document.querySelectorAll("#review button").forEach(function (button) {
        button.disabled = false;
      });
    }
  });

  // Click the image to see it at full resolution; click again or Esc to close.
  document.addEventListener("click", function (event) {
    const zoom = event.target.closest && event.target.closest("#review .review-zoom");
    if (!zoom || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    zoom.closest(".review-image").classList.toggle("zoomed");
  });

  document.addEventListener("keydown", function (event) {
    const zoomed = document.querySelector("#review .review-image.zoomed");
    if (zoomed && event.key === "Escape") {
      zoomed.classList.remove("zoomed");
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "id_corrected_description") {
      event.preventDefault();
      submitWith(document.querySelector("#review [data-shortcut-ctrl='Enter']"));
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) {
      return;
    }
    if (isTyping(event.target)) {
      if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    const key = event.key.toLowerCase();
    if (key === "e") {
      const editor = document.getElementById("id_corrected_description");
      if (editor) {
        event.preventDefault();
        editor.focus();
        editor.select();
      }
      return;
    }
    const button = document.querySelector('#review button[data-shortcut="' + CSS.escape(key) + '"]');
    if (button) {
      event.preventDefault();
      submitWith(button);
    }
  });
})();

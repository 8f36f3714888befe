// The admin's rules page: add a rule (the API retires the one it replaces) or retire one; the
// page reloads to show the rules in force. Writes carry the session's CSRF token.
(function () {
  "use strict";
  const csrf = document.body.dataset.csrf;
  const say = (text) => { document.getElementById("message").textContent = text; };
  async function send(method, url, body) {
    const r = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!r.ok) { const e = await r.json(); say(e.message + " " + JSON.stringify(e.details)); return false; }
    return true;
  }
  for (const form of document.querySelectorAll("form[data-post]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const [k, v] of new FormData(form)) {
        if (v === "") continue;
        body[k] = form.elements[k].type === "number" ? Number(v) : v;
      }
      if (await send("POST", form.dataset.post, body)) location.reload();
    });
  }
  for (const button of document.querySelectorAll("button[data-retire]")) {
    button.addEventListener("click", async () => {
      if (await send("DELETE", button.dataset.retire)) location.reload();
    });
  }
  document.body.dataset.ready = "1";
})();

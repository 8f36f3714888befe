/* An incident's card: its moves first (always in view), then the facts, who is responsible and
   the history in words. While open it asks the server every few seconds with If-None-Match, so
   it changes as soon as anyone acts; a 304 costs nothing. The operator's staff set the expected
   restoration time and the consumers cut off here. */
(function () {
  "use strict";

  var G = window.GisIncidents, u = G.util, el = u.el, field = u.field, select = u.select, when = u.when;
  var P = G.Workbench.prototype;
  var LIVE_SECONDS = 5;

  // The moves of the lifecycle as the server allows them (the server decides; this only shows).
  var MOVES = {
    assign: { from: ["new", "rejected"], who: "dispatch", operator: true },
    reassign: { from: ["assigned", "accepted", "in_progress"], who: "dispatch", comment: true, operator: true },
    accept: { from: ["assigned"], who: "operator", expected: true },
    start: { from: ["accepted"], who: "operator", expected: true },
    resolve: { from: ["accepted", "in_progress"], who: "operator" },
    reject: { from: ["assigned", "accepted"], who: "operator", comment: true },
    close: { from: ["resolved", "new", "rejected"], who: "dispatch", commentUnless: "resolved" },
    reopen: { from: ["resolved", "closed"], who: "dispatch", comment: true },
    duplicate: { from: ["new", "assigned", "accepted", "rejected"], who: "dispatch", master: true }
  };
  var WORKING = ["assigned", "accepted", "in_progress"];

  /* "2026-11-30T12:30" for a datetime-local input, in the browser's time zone. */
  function localInput(iso) {
    if (!iso) return "";
    var d = new Date(iso), pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  P.incidentUrl = function (id) { return this.cfg.urls.incident.replace("__id__", id); };

  P.openCard = function (id) {
    var self = this;
    return this.request("GET", this.incidentUrl(id)).then(function (res) {
      self.showCard(res.data, res.etag);
      return res.data;
    }).catch(function (err) { self.say(self.t.failed + err.message); return null; });
  };

  P.mayAct = function (move, inc) {
    var c = this.cfg;
    if (c.role === "admin") return true;
    if (move.who === "dispatch") {
      return c.role === "dispatcher" && (c.municipalityIds === null ||
        (inc.municipality && c.municipalityIds.indexOf(inc.municipality.id) >= 0));
    }
    return c.role === "operator" && inc.operator && inc.operator.id === c.operatorId;
  };

  /* Poll the open card: a 304 while nobody acts, the new state (and a word) when someone did. */
  P.watchCard = function () {
    var self = this;
    clearTimeout(this.cardTimer);
    this.cardTimer = setTimeout(function () {
      var card = self.card, id = card.dataset.incident;
      if (card.hidden || !id || !self.cardEtag) return;
      var etag = self.cardEtag;
      self.request("GET", self.incidentUrl(id), undefined, { "If-None-Match": etag }).then(function (res) {
        if (card.dataset.incident !== id || self.cardEtag !== etag) return;
        if (res.notModified || !res.data) return;
        if (card.contains(document.activeElement) && document.activeElement.value) {
          // Someone is typing in the card: keep the words, mark the card stale until saved.
          card.classList.add("stale");
          return;
        }
        self.showCard(res.data, res.etag);
        self.say(self.t.updated + " (№" + id + ")");
        card.classList.add("flash");
        setTimeout(function () { card.classList.remove("flash"); }, 1500);
      }).catch(function () {}).then(function () { if (card.dataset.incident === id) self.watchCard(); });
    }, LIVE_SECONDS * 1000);
  };

  P.showCard = function (inc, etag) {
    var self = this, t = this.t, card = this.card;
    card.textContent = "";
    card.hidden = false;
    card.classList.remove("stale");
    card.dataset.incident = inc.id;
    card.dataset.status = inc.status;
    card.dataset.version = inc.version;
    this.cardEtag = etag || '"' + inc.version + '"';
    this.expectedInput = null;
    this.openPanel(true);
    var head = el("div", "gis-card-head");
    head.appendChild(el("h3", null, this.word("kinds", inc.kind) + " №" + inc.id));
    var x = el("button", "gis-close", "×"); x.type = "button"; x.title = t.close; x.setAttribute("aria-label", t.close);
    x.addEventListener("click", function () {
      card.hidden = true; card.dataset.incident = ""; clearTimeout(self.cardTimer); self.highlight.clearLayers();
    });
    head.appendChild(x);
    card.appendChild(head);
    var status = el("p", "gis-status-line", this.word("statuses", inc.status) + (inc.overdue ? " · " + t.overdueMark : "") +
      (inc.escalation_level ? " · " + t.escalation[inc.escalation_level] : ""));
    status.style.setProperty("--c", u.STATUS_COLORS[inc.status]);
    card.appendChild(status);
    this.renderActions(inc, this.cardEtag);
    if (inc.operator && WORKING.indexOf(inc.status) >= 0 && this.mayAct({ who: "operator" }, inc)) {
      this.renderRestoration(inc);
    }
    if (this.cfg.role !== "operator" && this.mayAct({ who: "dispatch" }, inc)) this.renderPublicSummary(inc);
    // A cut-off figure says where it came from: the network trace or a dispatcher's hand.
    function cutOff(value, name) {
      if (value === null || value === "") return null;
      var source = (inc.cut_off_figures || {})[name];
      return source ? value + " (" + (source === "computed" ? t.computedMark : t.typedMark) + ")" : value;
    }
    var rows = [[t.utility, this.utilityName(inc.utility)], [t.category, this.word("categories", inc.category)],
      [t.priority, t.priorities[inc.priority]],
      ["", inc.description], [t.address, inc.address], [t.municipality, inc.municipality && inc.municipality.name_ru],
      [t.operator, inc.operator ? inc.operator.name : t.noOperator], [t.reported, when(inc.reported_at, this.lang)],
      [t.acceptDue, when(inc.accept_due_at, this.lang)], [t.resolveDue, when(inc.resolve_due_at, this.lang)],
      [t.expected, when(inc.expected_at, this.lang)], [t.consumers, cutOff(inc.consumers_cut_off || null, "consumers_cut_off")],
      [t.socialCut, cutOff((inc.social_objects_cut_off || []).map(function (o) { return o.name; }).join(", "), "social_objects_cut_off")],
      [t.settlementsCut, cutOff((inc.settlements_cut_off || []).map(function (s) { return self.lang === "en" ? s.name_en : s.name_ru; }).join(", "), "settlements_cut_off")],
      [t.duplicates, inc.duplicates || null],
      [t.duplicateOf, inc.duplicate_of], [t.plannedOutage, inc.planned_outage && inc.planned_outage.title]];
    var table = el("table", "gis-card-table");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      var tr = el("tr"); tr.appendChild(el("th", null, r[0])); tr.appendChild(el("td", null, r[1]));
      table.appendChild(tr);
    });
    card.appendChild(table);
    var resp = el("div", "gis-preview");
    var r = inc.responsible || {};
    this.renderResponsible(resp, { operator: inc.operator, rule: r.rule, reason: r.reason, reason_en: r.reason_en,
      distance_m: r.distance_m,
      feature_id: r.feature_id, candidates: r.candidates });
    card.appendChild(resp);
    if (window.GisTrace) window.GisTrace.cardButton(card, inc);  // static/trace.js
    var history = el("div", "gis-history");
    card.appendChild(history);
    this.request("GET", this.incidentUrl(inc.id) + "/events").then(function (res) {
      history.appendChild(el("h4", null, t.history));
      var ol = el("ol");
      res.data.events.forEach(function (e) {
        // System steps carry Russian words the server wrote; the English page says them from the data.
        var system = ["created", "duplicate", "duplicate_linked", "closed_with", "overdue", "geocoded", "link_removed"].indexOf(e.action) >= 0 ||
          (e.data && e.data.automatic);
        var note = e.comment && !(self.lang === "en" && system) ? " — " + e.comment : "";
        if (self.lang === "en" && e.data && (e.data.duplicate_of || e.data.duplicate_id)) {
          note = " — #" + (e.data.duplicate_of || e.data.duplicate_id);
        }
        if (self.lang === "en" && e.action === "link_removed" && e.data) {
          note = " — demo incident #" + e.data.incident + (e.data.link === "caused_by" ? ", its cause," : ", its master,") +
            " was removed by a demo reload";
        }
        var li = el("li", null, when(e.at, self.lang) + " · " + e.actor + " · " + self.word("events", e.action) +
          (e.to_status && e.to_status !== e.from_status ? " → " + self.word("statuses", e.to_status) : "") + note);
        if (e.action === "geocoded" && e.data && !e.data.confident) li.appendChild(self.geocodeCandidates(e.data));
        ol.appendChild(li);
      });
      history.appendChild(ol);
    }).catch(function () {});
    this.watchCard();
  };

  /* An address placed by its best guess (Open311 with an address only): the other places it may
     mean, each one click from the map, so the dispatcher checks the point before routing. */
  P.geocodeCandidates = function (data) {
    var self = this, box = el("div", "gis-geocode-candidates");
    box.appendChild(el("p", null, this.t.addressCandidates + " «" + data.address_string + "»:"));
    var ul = el("ul");
    (data.candidates || []).forEach(function (c, i) {
      var b = el("button", "gis-link", (i + 1) + ". " + c.label);
      b.type = "button";
      b.addEventListener("click", function () { self.showCandidate(c); });
      var item = el("li");
      item.appendChild(b);
      ul.appendChild(item);
    });
    box.appendChild(ul);
    return box;
  };

  P.showCandidate = function (c) {
    var ll = L.latLng(c.lat, c.lon);
    this.highlight.clearLayers();
    L.circleMarker(ll, { radius: 10, color: "#ff7f00", weight: 3, fill: false, interactive: false })
      .bindTooltip(c.label, { permanent: true, direction: "top", className: "gis-candidate-tip" })
      .addTo(this.highlight);
    this.centreInView(ll, Math.max(this.map.getZoom(), 17));
  };

  /* A small form of the card that PATCHes the incident: a save button and a place for the error;
     `body()` says what to send. A 412 (someone changed it meanwhile) reopens the card. */
  P.patchForm = function (box, inc, body) {
    var self = this, t = this.t;
    var save = el("button", "gis-secondary", t.save); save.type = "submit";
    var message = el("span", "gis-muted");
    box.appendChild(save); box.appendChild(message);
    box.addEventListener("submit", function (ev) {
      ev.preventDefault();
      save.disabled = true;
      self.request("PATCH", self.incidentUrl(inc.id), body(), { "If-Match": self.cardEtag }).then(function (res) {
        self.showCard(res.data, res.etag);
        self.say(t.saved);
      }).catch(function (err) {
        save.disabled = false;
        if (err.status === 412) { self.say(t.changed); self.openCard(inc.id); return; }
        message.textContent = t.failed + err.message;
      });
    });
    this.card.appendChild(box);
  };

  /* Dispatchers: the words the public sees of this incident (Open311 reads without a key show
     this summary, or only the service's name, never the caller's own words: docs/security.md). */
  P.renderPublicSummary = function (inc) {
    var t = this.t, box = el("form", "gis-public-summary");
    var text = el("textarea"); text.name = "public_summary"; text.rows = 2; text.maxLength = 500;
    text.value = inc.public_summary || ""; text.placeholder = t.publicHint;
    box.appendChild(field(t.publicSummary, text));
    this.patchForm(box, inc, function () { return { public_summary: text.value.trim() || null }; });
  };

  /* The operator's staff: the expected restoration time and the consumers cut off (PATCH). */
  P.renderRestoration = function (inc) {
    var t = this.t, box = el("form", "gis-restoration");
    var expected = el("input"); expected.type = "datetime-local"; expected.name = "expected_at"; expected.value = localInput(inc.expected_at);
    var consumers = el("input"); consumers.type = "number"; consumers.title = t.consumers; consumers.min = 0; consumers.name = "consumers_cut_off";
    consumers.value = inc.consumers_cut_off === null || inc.consumers_cut_off === undefined ? "" : inc.consumers_cut_off;
    box.appendChild(field(t.expected, expected));
    box.appendChild(field(t.consumers, consumers));
    this.patchForm(box, inc, function () {
      var body = {};
      if (expected.value) body.expected_at = new Date(expected.value).toISOString();
      if (consumers.value !== "") body.consumers_cut_off = +consumers.value;
      return body;
    });
    this.expectedInput = expected;
  };

  P.renderActions = function (inc, etag) {
    var self = this, t = this.t, card = this.card;
    var possible = Object.keys(MOVES).filter(function (name) {
      var m = MOVES[name];
      return m.from.indexOf(inc.status) >= 0 && self.mayAct(m, inc);
    });
    if (!possible.length) return;
    var box = el("div", "gis-actions");
    var buttons = el("div", "gis-buttons");
    box.appendChild(buttons);
    var comment = el("textarea"); comment.name = "comment"; comment.rows = 1; comment.maxLength = 2000;
    box.appendChild(field(t.comment, comment));
    var operatorSelect = null, masterInput = null;
    if (possible.indexOf("duplicate") >= 0) {
      masterInput = el("input"); masterInput.name = "duplicate_of"; masterInput.type = "number"; masterInput.min = 1;
      box.appendChild(field(t.masterIncident, masterInput));
    }
    if (possible.some(function (n) { return MOVES[n].operator; })) {
      operatorSelect = select("operator_id", [["", "—"]], inc.operator ? inc.operator.id : "");
      box.appendChild(field(t.chooseOperator, operatorSelect));
      this.loadOperators(inc.utility).then(function (ops) {
        ops.forEach(function (o) {
          var opt = el("option", null, o.short_name); opt.value = o.id;
          if (inc.operator && o.id === inc.operator.id) opt.selected = true;
          operatorSelect.appendChild(opt);
        });
      });
    }
    var message = el("p", "gis-error");
    possible.forEach(function (name) {
      var b = el("button", "gis-action", t.actions[name]);
      b.type = "button";
      b.dataset.action = name;
      b.addEventListener("click", function () {
        var body = {};
        if (comment.value) body.comment = comment.value;
        var needsComment = MOVES[name].comment || (MOVES[name].commentUnless && MOVES[name].commentUnless !== inc.status);
        if (needsComment && !comment.value) { message.textContent = t.commentNeeded; comment.focus(); return; }
        if (MOVES[name].operator && operatorSelect && operatorSelect.value) body.operator_id = +operatorSelect.value;
        if (MOVES[name].master) {
          if (!masterInput.value) { message.textContent = t.masterNeeded; masterInput.focus(); return; }
          body.duplicate_of = +masterInput.value;
        }
        if (MOVES[name].expected && self.expectedInput && self.expectedInput.value) {
          body.expected_at = new Date(self.expectedInput.value).toISOString();
        }
        b.disabled = true;
        self.request("POST", self.incidentUrl(inc.id) + "/" + name, body, { "If-Match": self.cardEtag || etag })
          .then(function (res) {
            self.showCard(res.data, res.etag);
            self.refresh();
            self.loadQueue();
          }).catch(function (err) {
            b.disabled = false;
            if (err.status === 412) { self.say(t.changed); self.openCard(inc.id); return; }
            message.textContent = t.failed + err.message;
          });
      });
      buttons.appendChild(b);
    });
    box.appendChild(message);
    card.appendChild(box);
  };

  P.loadOperators = function (utility) {
    return this.request("GET", this.cfg.urls.operators + "?utility=" + encodeURIComponent(utility))
      .then(function (res) { return res.data.operators; });
  };
})();

/* The queue of a shift: every open incident of the user's charge once, in the group that says
   what to do next (overdue, new, assigned but not accepted, in work, resolved to close), most
   urgent first (the server's sort=urgency), with priority, age, address and the time left to the
   deadline; counts per group in the header; a search by number or address; a flash (and, when
   asked for, a sound) when an incident arrives from Open311 or another dispatcher. */
(function () {
  "use strict";

  var G = window.GisIncidents, W = window.GisWords, u = G.util, el = u.el;
  var P = G.Workbench.prototype;
  var GROUPS = ["overdue", "new", "assigned", "working", "resolved"];

  function groupOf(inc) {
    if (inc.overdue) return "overdue";
    if (inc.status === "new" || inc.status === "rejected") return "new";
    if (inc.status === "assigned") return "assigned";
    if (inc.status === "resolved") return "resolved";
    return "working";
  }

  /* The next deadline of an incident: accepting while assigned, resolving while open. */
  function deadlineOf(inc) {
    if (inc.status === "assigned" && inc.accept_due_at) return inc.accept_due_at;
    if (inc.status === "resolved" || inc.status === "closed") return null;
    return inc.resolve_due_at;
  }

  P.queueUrl = function () {
    var c = this.cfg, base = c.urls.incidents + "?sort=urgency&limit=500&status=";
    if (c.role === "operator") return base + "assigned,accepted,in_progress,resolved&operator=" + c.operatorId;
    var url = base + "new,rejected,assigned,accepted,in_progress,resolved";
    if (c.role === "dispatcher" && c.municipalityIds) url += "&municipality=" + c.municipalityIds.join(",");
    return url;
  };

  P.buildQueue = function () {
    var self = this, t = this.t;
    this.mine = this.mine || {};
    var head = el("div", "gis-queue-head");
    head.appendChild(el("h3", null, this.cfg.role === "operator" ? t.queueOperator : this.cfg.role === "dispatcher" ? t.queue : t.queuePlanner));
    this.countsBox = el("div", "gis-counts");
    head.appendChild(this.countsBox);
    var tools = el("div", "gis-queue-tools");
    this.searchBox = el("input", "gis-search");
    this.searchBox.type = "search"; this.searchBox.name = "q"; this.searchBox.placeholder = t.search;
    this.searchBox.setAttribute("aria-label", t.search);
    this.searchBox.addEventListener("input", function () { self.renderQueue(); });
    this.searchBox.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      var q = self.searchBox.value.trim().replace(/^[№#]/, "");
      if (/^\d+$/.test(q)) self.showIncident(+q);
      else if (q) self.searchServer(q);
    });
    tools.appendChild(this.searchBox);
    var sound = el("label", "gis-sound");
    this.soundBox = el("input"); this.soundBox.type = "checkbox"; this.soundBox.name = "sound";
    this.soundBox.checked = localStorage.getItem("gisSound") === "1";
    this.soundBox.addEventListener("change", function () { localStorage.setItem("gisSound", self.soundBox.checked ? "1" : "0"); });
    sound.appendChild(this.soundBox); sound.appendChild(document.createTextNode(" " + t.sound));
    tools.appendChild(sound);
    head.appendChild(tools);
    this.queueList = el("div", "gis-queue-groups");
    this.extras = el("div", "gis-queue-extras");
    this.queue.textContent = "";
    this.queue.appendChild(head);
    this.queue.appendChild(this.queueList);
    this.queue.appendChild(this.extras);
  };

  P.loadQueue = function () {
    var self = this;
    if (!this.queueList) this.buildQueue();
    return this.request("GET", this.queueUrl()).then(function (res) {
      var items = res.data.incidents, fresh = [];
      if (self.known) {
        items.forEach(function (inc) { if (!self.known[inc.id] && !self.mine[inc.id]) fresh.push(inc); });
      }
      self.known = {};
      items.forEach(function (inc) { self.known[inc.id] = true; });
      self.items = items;
      self.renderQueue();
      if (fresh.length) self.announce(fresh);
      document.body.dataset.queueLoaded = String(Date.now());
      if (self.cfg.role === "operator" && self.loadImports) return self.loadImports();
    });
  };

  P.searchServer = function (q) {
    var self = this;
    return this.request("GET", this.cfg.urls.incidents + "?limit=20&q=" + encodeURIComponent(q)).then(function (res) {
      self.renderQueue(res.data.incidents);
    });
  };

  /* Something new: the panel's header flashes, the new rows are marked, a beep if asked for. */
  P.announce = function (fresh) {
    var self = this;
    this.queue.classList.remove("flash");
    void this.queue.offsetWidth;  // restart the animation
    this.queue.classList.add("flash");
    fresh.forEach(function (inc) {
      var row = self.queue.querySelector(".gis-queue-item[data-incident='" + inc.id + "']");
      if (row) row.classList.add("fresh");
    });
    this.say(this.t.newArrived + fresh.map(function (i) { return i.id; }).join(", №"));
    document.body.dataset.lastArrived = String(fresh[0].id);
    if (this.soundBox && this.soundBox.checked && window.AudioContext) {
      try {
        var ctx = this.audio || (this.audio = new AudioContext()), osc = ctx.createOscillator(), gain = ctx.createGain();
        osc.frequency.value = 880; gain.gain.value = 0.15;
        osc.connect(gain); gain.connect(ctx.destination);
        osc.start(); osc.stop(ctx.currentTime + 0.25);
      } catch (e) { /* no sound device: the flash is enough */ }
    }
  };

  P.renderQueue = function (found) {
    var self = this, t = this.t, lang = this.lang, now = Date.now();
    var q = (this.searchBox.value || "").trim().toLowerCase().replace(/^[№#]/, "");
    var items = (found || this.items || []).filter(function (inc) {
      return !q || found || String(inc.id).indexOf(q) === 0 || (inc.address || "").toLowerCase().indexOf(q) >= 0 ||
        (inc.description || "").toLowerCase().indexOf(q) >= 0;
    });
    var groups = {};
    GROUPS.forEach(function (g) { groups[g] = []; });
    items.forEach(function (inc) { (groups[groupOf(inc)] || groups.working).push(inc); });
    this.countsBox.textContent = "";
    GROUPS.forEach(function (g) {
      var chip = el("span", "gis-count " + g + (groups[g].length ? "" : " zero"), t.groupsShort[g] + " " + groups[g].length);
      chip.dataset.group = g;
      chip.dataset.count = groups[g].length;
      self.countsBox.appendChild(chip);
    });
    this.queueList.textContent = "";
    GROUPS.forEach(function (g) {
      if (!groups[g].length) return;
      var section = el("section", "gis-queue-group");
      section.dataset.group = g;
      section.appendChild(el("h4", null, t.groups[g] + " (" + groups[g].length + ")"));
      var ul = el("ul", "gis-queue-list");
      groups[g].slice(0, 100).forEach(function (inc) { ul.appendChild(self.queueRow(inc, now)); });
      section.appendChild(ul);
      self.queueList.appendChild(section);
    });
    if (!items.length) this.queueList.appendChild(el("p", "gis-muted", t.empty));
    document.body.dataset.queueCount = String(items.length);
  };

  P.queueRow = function (inc, now) {
    var self = this, t = this.t;
    var li = el("li");
    var b = el("button", "gis-queue-item" + (inc.overdue ? " overdue" : ""));
    b.type = "button";
    b.dataset.incident = inc.id;
    b.dataset.status = inc.status;
    var line = el("span", "gis-queue-line");
    var dot = el("i", "gis-swatch dot");
    dot.style.setProperty("--c", u.STATUS_COLORS[inc.status]);
    line.appendChild(dot);
    var prio = el("b", "gis-prio p" + inc.priority, "P" + inc.priority);
    prio.title = t.priorities[inc.priority];
    line.appendChild(prio);
    line.appendChild(el("span", "gis-queue-title", "№" + inc.id + " " + this.utilityName(inc.utility) + " · " +
      this.word("statuses", inc.status)));
    var due = deadlineOf(inc), left = el("span", "gis-left");
    if (due) {
      var minutes = (new Date(due).getTime() - now) / 60000;
      left.textContent = minutes >= 0 ? t.left + " " + W.duration(t, minutes) : t.late + " " + W.duration(t, minutes);
      if (minutes < 0) left.classList.add("late");
      else if (minutes < 60) left.classList.add("soon");
    }
    line.appendChild(left);
    b.appendChild(line);
    // The escalation ladder's step (issue 15).
    if (inc.escalation_level) b.appendChild(el("small", "gis-escalation", t.escalation[inc.escalation_level]));
    var age = W.duration(t, (now - new Date(inc.reported_at).getTime()) / 60000) + " " + t.age;
    b.appendChild(el("small", null, age + " · " + (inc.address || inc.description || this.word("categories", inc.category) || "") +
      (inc.operator ? " · " + inc.operator.name : "")));
    b.addEventListener("click", function () { self.showIncident(inc.id); });
    li.appendChild(b);
    return li;
  };
})();

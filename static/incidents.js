/* The incident workbench of the map: incidents live on the map (coloured by status, ringed when
   overdue), the queue of the user's role, the report form on a map click with the responsible
   operator and why, and an incident's card with its history and the moves the role allows.
   Every value is put in the page as text, never as HTML. */
(function () {
  "use strict";

  var T = {
    ru: {
      queueDispatcher: "Очередь: новые и отклонённые", overdue: "Просроченные",
      queueOperator: "Инциденты моей организации", imports: "Последние импорты слоёв",
      edits: "Последние правки объектов", editActions: { create: "создан", replace: "заменён", update: "изменён", "delete": "удалён" },
      exportTitle: "Экспорт данных", exportView: "Текущий вид карты", exportOblast: "Вся область",
      exportArea: "Территория", exportAnyOperator: "Все операторы", exportFormat: "Формат", exportGo: "Скачать", queuePlanner: "Открытые инциденты", empty: "Нет",
      report: "Сообщить об инциденте", reportHere: "Сообщить об инциденте на этом объекте",
      utility: "Ресурс", kind: "Вид", category: "Категория", priority: "Приоритет",
      description: "Описание", address: "Адрес", contact: "Контакт заявителя", create: "Создать",
      cancel: "Отмена", responsible: "Ответственный", noOperator: "Оператор не определён — назначьте вручную",
      reason: "Почему", distance: "Расстояние, м", candidates: "Другие кандидаты", rule: "Правило",
      status: "Статус", operator: "Оператор", municipality: "Муниципальное образование",
      reported: "Поступил", acceptDue: "Принять до", resolveDue: "Устранить до", overdueMark: "ПРОСРОЧЕН",
      escalation: ["", "↑ напомнено организации", "↑ ЕДДС/МЦУ", "↑ ЦУР"],
      history: "История", duplicates: "Дубликатов", duplicateOf: "Дубликат инцидента №",
      plannedOutage: "Плановое отключение", comment: "Комментарий", commentNeeded: "Нужен комментарий",
      chooseOperator: "Оператор для назначения", changed: "Инцидент изменён другим пользователем — карточка обновлена",
      created: "Инцидент создан", failed: "Ошибка: ", close: "Закрыть карточку",
      actions: { assign: "Назначить", reassign: "Переназначить", accept: "Принять", start: "Начать работы",
        resolve: "Устранено", reject: "Отклонить (не наш)", close: "Закрыть", reopen: "Открыть снова",
        duplicate: "Дубликат" },
      masterIncident: "Дубликат инцидента № (для «Дубликат»)", masterNeeded: "Укажите номер основного инцидента",
      statuses: { new: "Новый", assigned: "Назначен", accepted: "Принят", in_progress: "В работе",
        resolved: "Устранён", closed: "Закрыт", rejected: "Отклонён", duplicate: "Дубликат" },
      kinds: { incident: "Инцидент", accident: "Авария", planned_outage: "Плановое отключение" },
      rules: { selected_feature: "выбранный объект", nearest_feature: "ближайший объект сети", service_area: "зона обслуживания",
        designated: "назначен муниципалитетом", unresolved: "не определён", manual: "вручную" },
      priorities: { 1: "1 — критический", 2: "2 — высокий", 3: "3 — обычный", 4: "4 — низкий" }
    },
    en: {
      queueDispatcher: "Queue: new and rejected", overdue: "Overdue",
      queueOperator: "My organisation's incidents", imports: "Latest layer imports",
      edits: "Latest feature edits", editActions: { create: "created", replace: "replaced", update: "updated", "delete": "deleted" },
      exportTitle: "Export", exportView: "The map's current view", exportOblast: "The whole oblast",
      exportArea: "Area", exportAnyOperator: "Every operator", exportFormat: "Format", exportGo: "Download", queuePlanner: "Open incidents", empty: "None",
      report: "Report an incident", reportHere: "Report an incident on this asset",
      utility: "Utility", kind: "Kind", category: "Category", priority: "Priority",
      description: "Description", address: "Address", contact: "Reporter's contact", create: "Create",
      cancel: "Cancel", responsible: "Responsible", noOperator: "No operator found — assign by hand",
      reason: "Why", distance: "Distance, m", candidates: "Other candidates", rule: "Rule",
      status: "Status", operator: "Operator", municipality: "Municipality",
      reported: "Reported", acceptDue: "Accept by", resolveDue: "Resolve by", overdueMark: "OVERDUE",
      escalation: ["", "↑ operator reminded", "↑ municipal centre", "↑ regional centre"],
      history: "History", duplicates: "Duplicates", duplicateOf: "Duplicate of incident #",
      plannedOutage: "Planned outage", comment: "Comment", commentNeeded: "A comment is needed",
      chooseOperator: "Operator to assign", changed: "Someone else changed the incident — the card is reloaded",
      created: "Incident created", failed: "Error: ", close: "Close the card",
      actions: { assign: "Assign", reassign: "Reassign", accept: "Accept", start: "Start work",
        resolve: "Resolved", reject: "Reject (not ours)", close: "Close", reopen: "Reopen",
        duplicate: "Duplicate" },
      masterIncident: "Duplicate of incident # (for 'Duplicate')", masterNeeded: "Give the number of the incident it repeats",
      statuses: { new: "New", assigned: "Assigned", accepted: "Accepted", in_progress: "In progress",
        resolved: "Resolved", closed: "Closed", rejected: "Rejected", duplicate: "Duplicate" },
      kinds: { incident: "Incident", accident: "Accident", planned_outage: "Planned outage" },
      rules: { selected_feature: "the asset clicked", nearest_feature: "nearest network asset", service_area: "service area",
        designated: "designated by the municipality", unresolved: "unresolved", manual: "by hand" },
      priorities: { 1: "1 — critical", 2: "2 — high", 3: "3 — normal", 4: "4 — low" }
    }
  };
  var STATUS_COLORS = { new: "#d7191c", assigned: "#fdae61", accepted: "#fee08b", in_progress: "#2b83ba",
    resolved: "#1a9641", closed: "#999999", rejected: "#7b3294", duplicate: "#bbbbbb" };
  var OPEN = ["new", "assigned", "accepted", "in_progress", "resolved", "rejected"];
  // The moves of the lifecycle as the server allows them (the server decides; this only shows).
  var MOVES = {
    assign: { from: ["new", "rejected"], who: "dispatch", operator: true },
    reassign: { from: ["assigned", "accepted", "in_progress"], who: "dispatch", comment: true, operator: true },
    accept: { from: ["assigned"], who: "operator" },
    start: { from: ["accepted"], who: "operator" },
    resolve: { from: ["accepted", "in_progress"], who: "operator" },
    reject: { from: ["assigned", "accepted"], who: "operator", comment: true },
    close: { from: ["resolved", "new", "rejected"], who: "dispatch", commentUnless: "resolved" },
    reopen: { from: ["resolved", "closed"], who: "dispatch", comment: true },
    duplicate: { from: ["new", "assigned", "accepted", "rejected"], who: "dispatch", master: true }
  };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function field(labelText, input) {
    var label = el("label", "gis-field");
    label.appendChild(el("span", null, labelText));
    label.appendChild(input);
    return label;
  }

  function select(name, options, value) {
    var s = el("select");
    s.name = name;
    options.forEach(function (o) {
      var opt = el("option", null, o[1]);
      opt.value = o[0];
      if (String(o[0]) === String(value)) opt.selected = true;
      s.appendChild(opt);
    });
    return s;
  }

  function when(iso, lang) { return iso ? new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "ru-RU") : ""; }

  function Workbench(gis) {
    this.gis = gis;
    this.map = gis.map;
    this.cfg = gis.cfg.workbench;
    this.lang = gis.cfg.lang;
    this.t = T[this.lang] || T.ru;
    this.group = window[gis.cfg.incidents.group];
    this.highlight = L.layerGroup().addTo(this.map);
    this.panel = document.getElementById("gis-panel");
    this.queue = document.getElementById("gis-queue");
    this.card = document.getElementById("gis-card");
    this.operators = null;
  }

  Workbench.prototype.request = function (method, url, body, headers) {
    var h = { Accept: "application/json" };
    if (this.cfg.csrfToken) h["X-CSRF-Token"] = this.cfg.csrfToken;
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    var init = { method: method, headers: h, credentials: "same-origin" };
    if (body !== undefined) { h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (r) {
      return r.text().then(function (txt) {
        var data = txt ? JSON.parse(txt) : null;
        if (!r.ok) {
          var err = new Error((data && data.message) || String(r.status));
          err.status = r.status; err.body = data;
          throw err;
        }
        return { data: data, etag: r.headers.get("ETag") };
      });
    });
  };

  Workbench.prototype.utilityName = function (code) {
    var found = this.cfg.utilities.filter(function (u) { return u.code === code; })[0];
    return found ? found.name : code;
  };

  Workbench.prototype.say = function (text) { this.gis.say(text); };

  /* --- incidents on the map ------------------------------------------------------------ */
  /* The map keeps one marker per incident and asks with If-None-Match: an unchanged set is a
     304 and costs nothing; a changed one updates only the markers whose state changed. */
  Workbench.prototype.refresh = function () {
    var self = this;
    var headers = { Accept: "application/geo+json" };
    if (this.etag) headers["If-None-Match"] = this.etag;
    return fetch(this.cfg.urls.incidentPoints, { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        document.body.dataset.incidentsRefreshed = String(Date.now());
        if (r.status === 304) return null;
        if (!r.ok) throw new Error(String(r.status));
        self.etag = r.headers.get("ETag");
        return r.json();
      }).then(function (fc) { if (fc) self.draw(fc); });
  };

  Workbench.prototype.draw = function (fc) {
    var self = this, t = this.t, seen = {};
    if (!this.markers) this.markers = {};
    fc.features.forEach(function (f) {
      var p = f.properties, key = p.status + (p.overdue ? "!" : "");
      seen[f.id] = true;
      var marker = self.markers[f.id];
      if (marker && marker.gisKey === key) return;
      var style = { radius: 8, fillColor: STATUS_COLORS[p.status] || "#000", fillOpacity: 0.95,
        color: p.overdue ? "#b10026" : "#222", weight: p.overdue ? 4 : 1 };
      var tip = (t.kinds[p.kind] || p.kind) + " №" + f.id + " — " + (t.statuses[p.status] || p.status) +
        (p.overdue ? " — " + t.overdueMark : "");
      if (marker) {
        marker.setStyle(style);
        marker.setTooltipContent(tip);
      } else {
        var c = f.geometry.coordinates;
        marker = L.circleMarker([c[1], c[0]], style).bindTooltip(tip);
        marker.on("click", function (e) {
          if (e.originalEvent) e.originalEvent.gisFeature = true;
          self.openCard(f.id);
        });
        self.group.addLayer(marker);
        self.markers[f.id] = marker;
      }
      marker.gisKey = key;
    });
    Object.keys(this.markers).forEach(function (id) {
      if (!seen[id]) { self.group.removeLayer(self.markers[id]); delete self.markers[id]; }
    });
    document.body.dataset.incidents = String(fc.features.length);
  };

  /* --- the queue of the role ------------------------------------------------------------ */
  Workbench.prototype.loadQueue = function () {
    var self = this, t = this.t, u = this.cfg.urls.incidents, lists;
    if (this.cfg.role === "operator") {
      lists = [[t.queueOperator, u + "?operator=" + this.cfg.operatorId + "&status=assigned,accepted,in_progress&limit=50"],
               [t.overdue, u + "?operator=" + this.cfg.operatorId + "&overdue=true&limit=50"]];
    } else if (this.cfg.role === "planner") {
      lists = [[t.queuePlanner, u + "?status=" + OPEN.join(",") + "&limit=50"]];
    } else {
      lists = [[t.queueDispatcher, u + "?status=new,rejected&limit=500"], [t.overdue, u + "?overdue=true&limit=500"]];
    }
    var mine = this.cfg.municipalityIds;  // a dispatcher's charge; null: the whole oblast
    return Promise.all(lists.map(function (l) { return self.request("GET", l[1]); })).then(function (answers) {
      self.queue.textContent = "";
      answers.forEach(function (res, i) {
        var items = res.data.incidents.filter(function (inc) {
          return !mine || (inc.municipality && mine.indexOf(inc.municipality.id) >= 0);
        }).slice(0, 50);
        self.queue.appendChild(el("h3", null, lists[i][0] + " (" + items.length + ")"));
        var ul = el("ul", "gis-queue-list");
        if (!items.length) ul.appendChild(el("li", "gis-muted", t.empty));
        items.forEach(function (inc) {
          var li = el("li");
          var b = el("button", "gis-queue-item" + (inc.overdue ? " overdue" : ""));
          b.type = "button";
          b.dataset.incident = inc.id;
          var dot = el("i", "gis-swatch dot");
          dot.style.setProperty("--c", STATUS_COLORS[inc.status]);
          b.appendChild(dot);
          b.appendChild(el("span", null, "№" + inc.id + " " + (t.statuses[inc.status] || inc.status) + " · " +
            self.utilityName(inc.utility) + " · " + (inc.operator ? inc.operator.name : "—")));
          if (inc.escalation_level) b.appendChild(el("small", "gis-escalation", t.escalation[inc.escalation_level]));
          b.appendChild(el("small", null, inc.description || inc.category || ""));
          b.addEventListener("click", function () {
            self.map.setView([inc.lat, inc.lon], Math.max(self.map.getZoom(), 15));
            self.openCard(inc.id);
          });
          li.appendChild(b);
          ul.appendChild(li);
        });
        self.queue.appendChild(ul);
      });
      if (self.cfg.role === "operator" && self.cfg.urls.imports) return self.loadImports();
    });
  };

  /* Operator staff: the latest imports of their organisation's layers. */
  Workbench.prototype.loadImports = function () {
    var self = this, t = this.t;
    return this.request("GET", this.cfg.urls.imports + "?limit=5").then(function (res) {
      self.queue.appendChild(el("h3", null, t.imports));
      var ul = el("ul", "gis-queue-list");
      if (!res.data.imports.length) ul.appendChild(el("li", "gis-muted", t.empty));
      res.data.imports.forEach(function (imp) {
        ul.appendChild(el("li", "gis-import", when(imp.started_at, self.lang) + " · " + imp.layer_id + " · " +
          imp.mode + (imp.dry_run ? " (dry run)" : "") + " · +" + imp.added + " ~" + imp.changed + " −" +
          imp.removed + " ✗" + imp.rejected + " · " + imp.status));
      });
      self.queue.appendChild(ul);
      if (self.cfg.urls.featureEdits) return self.loadEdits();
    });
  };

  /* Operator staff: the latest single-feature edits of their organisation (OGC API Part 4). */
  Workbench.prototype.loadEdits = function () {
    var self = this, t = this.t;
    return this.request("GET", this.cfg.urls.featureEdits + "?limit=5").then(function (res) {
      self.queue.appendChild(el("h3", null, t.edits));
      var ul = el("ul", "gis-queue-list");
      if (!res.data.feature_edits.length) ul.appendChild(el("li", "gis-muted", t.empty));
      res.data.feature_edits.forEach(function (e) {
        ul.appendChild(el("li", "gis-edit", when(e.at, self.lang) + " · " + e.layer_id + " · " +
          (e.external_id || "#" + e.feature_id) + " " + (t.editActions[e.action] || e.action) + " · " + e.username));
      });
      self.queue.appendChild(ul);
    });
  };

  /* --- report: a click on the map opens the form ---------------------------------------- */
  Workbench.prototype.canCreate = function () { return this.cfg.role === "dispatcher" || this.cfg.role === "admin"; };

  Workbench.prototype.openForm = function (latlng, preset) {
    var self = this, t = this.t, cfg = this.cfg;
    preset = preset || {};
    var form = el("form", "gis-report");
    form.appendChild(el("h3", null, preset.featureTitle ? t.reportHere : t.report));
    var utility = select("utility", cfg.utilities.map(function (u) { return [u.code, u.name]; }), preset.utility);
    var kind = select("kind", ["incident", "accident", "planned_outage"].map(function (k) { return [k, t.kinds[k]]; }), "incident");
    var priority = select("priority", [1, 2, 3, 4].map(function (p) { return [p, t.priorities[p]]; }), 3);
    var category = el("input"); category.name = "category"; category.maxLength = 100;
    var description = el("textarea"); description.name = "description"; description.rows = 3; description.maxLength = 4000;
    var address = el("input"); address.name = "address"; address.maxLength = 500;
    var contact = el("input"); contact.name = "reporter_contact"; contact.maxLength = 500;
    [[t.utility, utility], [t.kind, kind], [t.priority, priority], [t.category, category],
     [t.description, description], [t.address, address], [t.contact, contact]].forEach(function (f) {
      form.appendChild(field(f[0], f[1]));
    });
    var preview = el("div", "gis-preview");
    form.appendChild(preview);
    var message = el("p", "gis-error");
    form.appendChild(message);
    var submit = el("button", "gis-primary", t.create); submit.type = "submit";
    form.appendChild(submit);
    var popup = L.popup({ maxWidth: 360, minWidth: 300 }).setLatLng(latlng).setContent(form).openOn(this.map);
    var marker = L.circleMarker(latlng, { radius: 6, color: "#000", fillColor: "#fff", fillOpacity: 1 }).addTo(this.highlight);
    popup.on("remove", function () { self.highlight.removeLayer(marker); });

    var showResponsible = function () {
      var url = cfg.urls.responsible + "?lon=" + latlng.lng.toFixed(6) + "&lat=" + latlng.lat.toFixed(6) +
        "&utility=" + encodeURIComponent(utility.value) + (preset.featureId ? "&feature_id=" + preset.featureId : "");
      preview.textContent = "…";
      self.request("GET", url).then(function (res) {
        self.renderResponsible(preview, res.data);
      }).catch(function (err) { preview.textContent = t.failed + err.message; });
    };
    utility.addEventListener("change", showResponsible);
    showResponsible();

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      message.textContent = "";
      var body = { lon: +latlng.lng.toFixed(6), lat: +latlng.lat.toFixed(6), utility: utility.value, kind: kind.value,
        priority: +priority.value, description: description.value };
      if (category.value) body.category = category.value;
      if (address.value) body.address = address.value;
      if (contact.value) body.reporter_contact = contact.value;
      if (preset.featureId) body.feature_id = preset.featureId;
      submit.disabled = true;
      self.request("POST", cfg.urls.incidents, body).then(function (res) {
        self.map.closePopup(popup);
        self.say(t.created + " №" + res.data.id);
        document.body.dataset.lastCreated = String(res.data.id);
        self.refresh();
        self.loadQueue();
        self.showCard(res.data, res.etag);
      }).catch(function (err) {
        submit.disabled = false;
        var where = err.body && err.body.details && err.body.details.field ? " (" + err.body.details.field + ")" : "";
        message.textContent = t.failed + err.message + where;
      });
    });
  };

  Workbench.prototype.renderResponsible = function (box, r) {
    var t = this.t, self = this;
    box.textContent = "";
    // /api/responsible names the operator as text beside operator_id; an incident as an object.
    var op = typeof r.operator === "string" ? { id: r.operator_id, name: r.operator } : r.operator;
    if (this.lang === "en" && r.reason_en) r = Object.assign({}, r, { reason: r.reason_en });
    box.appendChild(el("div", "gis-responsible" + (op ? "" : " unresolved"),
      t.responsible + ": " + (op ? op.name || op.short_name : t.noOperator)));
    box.appendChild(el("div", "gis-reason", t.reason + ": " + (r.reason || "") +
      (r.rule ? " [" + (t.rules[r.rule] || r.rule) + "]" : "") +
      (r.distance_m !== null && r.distance_m !== undefined ? " · " + r.distance_m + " м" : "")));
    var featureId = r.feature_id || (r.feature && r.feature.id);
    if (featureId) this.highlightFeature(featureId);
    var candidates = r.candidates || [];
    if (candidates.length) {
      var details = el("details", "gis-candidates-box");
      var ul = el("ol", "gis-candidates");
      candidates.slice(0, 5).forEach(function (c) {
        ul.appendChild(el("li", null, String(c.operator || "") + (c.rule ? " — " + (t.rules[c.rule] || c.rule) : "") +
          (c.distance_m !== undefined ? ", " + c.distance_m + " м" : "") +
          (c.lost_because ? ": " + ((self.lang === "en" && c.lost_because_en) || c.lost_because) : "")));
      });
      details.appendChild(el("summary", "gis-muted", t.candidates + " (" + candidates.length + ")"));
      details.appendChild(ul);
      box.appendChild(details);
    }
    box.dataset.operator = op ? String(op.id) : "";
    box.dataset.rule = r.rule || "";
    return self;
  };

  Workbench.prototype.highlightFeature = function (featureId) {
    var self = this;
    this.request("GET", this.cfg.urls.feature.replace("__id__", featureId)).then(function (res) {
      self.highlight.eachLayer(function (l) { if (l.gisHighlight) self.highlight.removeLayer(l); });
      var layer = L.geoJSON(res.data, {
        style: { color: "#00e5ff", weight: 9, opacity: 0.8 },
        pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 12, color: "#00e5ff", weight: 5, fill: false }); }
      });
      layer.gisHighlight = true;
      self.highlight.addLayer(layer);
      document.body.dataset.highlighted = String(featureId);
    }).catch(function () {});
  };

  /* --- the incident card --------------------------------------------------------------- */
  Workbench.prototype.openCard = function (id) {
    var self = this;
    return this.request("GET", this.cfg.urls.incident.replace("__id__", id)).then(function (res) {
      self.showCard(res.data, res.etag);
    }).catch(function (err) { self.say(self.t.failed + err.message); });
  };

  Workbench.prototype.mayAct = function (move, inc) {
    var c = this.cfg;
    if (c.role === "admin") return true;
    if (move.who === "dispatch") {
      return c.role === "dispatcher" && (c.municipalityIds === null ||
        (inc.municipality && c.municipalityIds.indexOf(inc.municipality.id) >= 0));
    }
    return c.role === "operator" && inc.operator && inc.operator.id === c.operatorId;
  };

  Workbench.prototype.showCard = function (inc, etag) {
    var self = this, t = this.t, card = this.card;
    card.textContent = "";
    card.hidden = false;
    card.dataset.incident = inc.id;
    card.dataset.status = inc.status;
    var head = el("div", "gis-card-head");
    head.appendChild(el("h3", null, (t.kinds[inc.kind] || inc.kind) + " №" + inc.id));
    var x = el("button", "gis-close", "×"); x.type = "button"; x.title = t.close;
    x.addEventListener("click", function () { card.hidden = true; self.highlight.clearLayers(); });
    head.appendChild(x);
    card.appendChild(head);
    var status = el("p", "gis-status-line", (t.statuses[inc.status] || inc.status) + (inc.overdue ? " · " + t.overdueMark : "") +
      (inc.escalation_level ? " · " + t.escalation[inc.escalation_level] : ""));
    status.style.setProperty("--c", STATUS_COLORS[inc.status]);
    card.appendChild(status);
    var rows = [[t.utility, this.utilityName(inc.utility)], [t.category, inc.category], [t.priority, t.priorities[inc.priority]],
      ["", inc.description], [t.address, inc.address], [t.municipality, inc.municipality && inc.municipality.name_ru],
      [t.operator, inc.operator ? inc.operator.name : t.noOperator], [t.reported, when(inc.reported_at, this.lang)],
      [t.acceptDue, when(inc.accept_due_at, this.lang)], [t.resolveDue, when(inc.resolve_due_at, this.lang)],
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
    this.renderResponsible(resp, { operator: inc.operator, rule: r.rule, reason: r.reason, distance_m: r.distance_m,
      feature_id: r.feature_id, candidates: r.candidates });
    card.appendChild(resp);
    if (window.GisTrace) window.GisTrace.cardButton(card, inc);  // static/trace.js
    this.renderActions(inc, etag);
    var history = el("div", "gis-history");
    card.appendChild(history);
    this.request("GET", this.cfg.urls.incident.replace("__id__", inc.id) + "/events").then(function (res) {
      history.appendChild(el("h4", null, t.history));
      var ol = el("ol");
      res.data.events.forEach(function (e) {
        ol.appendChild(el("li", null, when(e.at, self.lang) + " · " + e.actor + " · " + e.action +
          (e.to_status ? " → " + (t.statuses[e.to_status] || e.to_status) : "") + (e.comment ? " — " + e.comment : "")));
      });
      history.appendChild(ol);
    }).catch(function () {});
  };

  Workbench.prototype.renderActions = function (inc, etag) {
    var self = this, t = this.t, card = this.card;
    var possible = Object.keys(MOVES).filter(function (name) {
      var m = MOVES[name];
      return m.from.indexOf(inc.status) >= 0 && self.mayAct(m, inc);
    });
    if (!possible.length) return;
    var box = el("div", "gis-actions");
    var comment = el("textarea"); comment.name = "comment"; comment.rows = 2; comment.maxLength = 2000;
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
    var buttons = el("div", "gis-buttons");
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
        b.disabled = true;
        self.request("POST", self.cfg.urls.incident.replace("__id__", inc.id) + "/" + name, body,
          { "If-Match": etag || '"' + inc.version + '"' }).then(function (res) {
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
    box.appendChild(buttons);
    box.appendChild(message);
    card.appendChild(box);
  };

  Workbench.prototype.loadOperators = function (utility) {
    return this.request("GET", this.cfg.urls.operators + "?utility=" + encodeURIComponent(utility))
      .then(function (res) { return res.data.operators; });
  };

  /* --- planners: the export panel ---------------------------------------------------------- */
  Workbench.prototype.exportPanel = function () {
    var self = this, t = this.t, cfg = this.cfg, gis = this.gis;
    var form = el("form", "gis-export");
    form.id = "gis-export";
    form.appendChild(el("h3", null, t.exportTitle));
    var list = el("div", "gis-export-layers");
    gis.cfg.layers.forEach(function (layer) {
      var label = el("label");
      var box = el("input"); box.type = "checkbox"; box.name = "layer"; box.value = layer.id; box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + layer.title));
      list.appendChild(label);
    });
    form.appendChild(list);
    var areas = [["view", t.exportView], ["", t.exportOblast]].concat(
      cfg.municipalities.map(function (m) { return [m.slug, m.name]; }));
    var area = select("area", areas, gis.cfg.municipalities.focus || "view");
    form.appendChild(field(t.exportArea, area));
    var operator = select("operator", [["", t.exportAnyOperator]], "");
    this.request("GET", cfg.urls.operators).then(function (res) {
      res.data.operators.forEach(function (o) {
        var opt = el("option", null, o.short_name); opt.value = o.slug; operator.appendChild(opt);
      });
    });
    form.appendChild(field(t.operator, operator));
    var format = select("format", [["gpkg", "GeoPackage"], ["geojson", "GeoJSON (zip)"], ["shp", "Shapefile (zip)"],
      ["csv", "CSV WKT (zip)"], ["fgb", "FlatGeobuf (zip)"]], "gpkg");
    form.appendChild(field(t.exportFormat, format));
    var link = el("a", "gis-primary", t.exportGo);
    link.id = "gis-export-link";
    var update = function () {
      var layers = Array.prototype.filter.call(list.querySelectorAll("input"), function (b) { return b.checked; })
        .map(function (b) { return b.value; });
      var q = ["format=" + format.value, "layers=" + layers.join(",")];
      if (area.value === "view") {
        var b = self.map.getBounds();
        q.push("bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(","));
      } else if (area.value) {
        q.push("municipality=" + encodeURIComponent(area.value));
      }
      if (operator.value) q.push("operator=" + encodeURIComponent(operator.value));
      link.href = cfg.urls.exports + "?" + q.join("&");
    };
    form.addEventListener("change", update);
    this.map.on("moveend", update);
    link.addEventListener("click", update);
    update();
    form.appendChild(link);
    this.panel.insertBefore(form, this.queue);
  };

  Workbench.prototype.legend = function () {
    var list = document.querySelector(".gis-statuses"), t = this.t;
    if (!list) return;
    Object.keys(STATUS_COLORS).forEach(function (s) {
      var li = el("li"), sw = el("i", "gis-swatch dot");
      sw.style.setProperty("--c", STATUS_COLORS[s]);
      li.appendChild(sw);
      li.appendChild(document.createTextNode(t.statuses[s]));
      list.appendChild(li);
    });
    var li = el("li"), ring = el("i", "gis-swatch dot overdue");
    li.appendChild(ring); li.appendChild(document.createTextNode(t.overdueMark));
    list.appendChild(li);
  };

  Workbench.prototype.start = function () {
    var self = this;
    this.legend();
    if (this.cfg.role === "planner" || this.cfg.role === "admin") this.exportPanel();
    if (this.canCreate()) {
      this.gis.onEmptyClick = function (e) { self.openForm(e.latlng); };
      this.gis.onFeaturePopup = function (box, layer, feature) {
        var b = el("button", "gis-primary", self.t.reportHere);
        b.type = "button";
        b.addEventListener("click", function () {
          var c = feature.geometry.type === "Point" ? feature.geometry.coordinates :
            feature.geometry.coordinates[Math.floor(feature.geometry.coordinates.length / 2)];
          self.map.closePopup();
          self.openForm(L.latLng(c[1], c[0]), { utility: layer.utility, featureId: feature.id, featureTitle: layer.title });
        });
        box.appendChild(b);
      };
    }
    setInterval(function () { self.refresh().catch(function () {}); self.loadQueue().catch(function () {}); },
      this.cfg.refreshSeconds * 1000);
    return Promise.all([this.refresh(), this.loadQueue()]);
  };

  window.GisIncidents = {
    attach: function (gis) { var w = new Workbench(gis); window.gisWorkbench = w; return w.start(); },
    T: T
  };
})();

/* The workbench's words in Russian and English: one table, plus plural forms (Intl.PluralRules)
   and words for the codes the server sends (statuses, kinds, rules, history steps, categories).
   The words for the allowed values of layer attributes come from the layer files (config). */
(function () {
  "use strict";

  var T = {
    ru: {
      queue: "Очередь смены", queueOperator: "Инциденты моей организации", queuePlanner: "Открытые инциденты",
      imports: "Последние импорты слоёв",
      edits: "Последние правки объектов", editActions: { create: "создан", replace: "заменён", update: "изменён", "delete": "удалён" },
      exportTitle: "Экспорт данных", exportView: "Текущий вид карты", exportOblast: "Вся область",
      exportArea: "Территория", exportAnyOperator: "Все операторы", exportFormat: "Формат", exportGo: "Скачать", empty: "Нет",
      search: "Поиск: номер или адрес", sound: "Звук", newArrived: "Новый инцидент №",
      groups: { overdue: "Просрочены", "new": "Новые — назначить", assigned: "Назначены, не приняты",
        working: "Приняты / в работе", resolved: "Устранены — закрыть" },
      groupsShort: { overdue: "просроч.", "new": "новые", assigned: "не приняты", working: "в работе", resolved: "закрыть" },
      age: "назад", left: "осталось", late: "просрочен на", noDeadline: "без срока",
      min: "мин", hour: "ч", day: "д",
      report: "Сообщить об инциденте", reportHere: "Сообщить об инциденте на этом объекте",
      utility: "Ресурс", chooseUtility: "— выберите ресурс —", utilityNeeded: "Выберите ресурс",
      kind: "Вид", category: "Категория", priority: "Приоритет",
      description: "Описание", address: "Адрес", contact: "Контакт заявителя", create: "Создать (Enter)",
      cancel: "Отмена (Esc)", moveHint: "Щелчок по карте переносит точку; введённое сохраняется.",
      pointOnAsset: "Точка на объекте", pointClicked: "Точка щелчка",
      responsible: "Ответственный", noOperator: "Оператор не определён — назначьте вручную",
      reason: "Почему", distance: "Расстояние, м", candidates: "Кандидаты", rule: "Правило",
      status: "Статус", operator: "Оператор", municipality: "Муниципальное образование",
      reported: "Поступил", acceptDue: "Принять до", resolveDue: "Устранить до", overdueMark: "ПРОСРОЧЕН",
      escalation: ["", "↑ напомнено организации", "↑ ЕДДС/МЦУ", "↑ ЦУР"],
      expected: "Ожидаемое восстановление", consumers: "Отключено потребителей", save: "Сохранить",
      socialCut: "Социальные объекты без снабжения", settlementsCut: "Населённые пункты без снабжения",
      computedMark: "расчёт по сети", typedMark: "введено диспетчером",
      saved: "Сохранено", publicSummary: "Для жителей (Open311)",
      publicHint: "Что видят жители: без имён, телефонов и точного адреса",
      history: "История", addressCandidates: "Адрес неоднозначен, проверьте место. Варианты для", duplicates: "Дубликатов", duplicateOf: "Дубликат инцидента №",
      plannedOutage: "Плановое отключение", comment: "Комментарий", commentNeeded: "Нужен комментарий",
      chooseOperator: "Оператор для назначения", changed: "Инцидент изменён другим пользователем — карточка обновлена",
      updated: "Карточка обновлена", created: "Инцидент создан", failed: "Ошибка: ", close: "Закрыть карточку",
      panel: "Панель", legendButton: "Легенда", mine: "Мои районы",
      actions: { assign: "Назначить", reassign: "Переназначить", accept: "Принять", start: "Начать работы",
        resolve: "Устранено", reject: "Отклонить (не наш)", close: "Закрыть", reopen: "Открыть снова",
        duplicate: "Дубликат" },
      masterIncident: "Дубликат инцидента № (для «Дубликат»)", masterNeeded: "Укажите номер основного инцидента",
      statuses: { "new": "Новый", assigned: "Назначен", accepted: "Принят", in_progress: "В работе",
        resolved: "Устранён", closed: "Закрыт", rejected: "Отклонён", duplicate: "Дубликат" },
      kinds: { incident: "Инцидент", accident: "Авария", planned_outage: "Плановое отключение" },
      rules: { selected_feature: "выбранный объект", nearest_feature: "ближайший объект сети", service_area: "зона обслуживания",
        designated: "назначен муниципалитетом", unresolved: "не определён", manual: "вручную" },
      events: { created: "создан", assign: "назначен", reassign: "переназначен", accept: "принят", start: "начаты работы",
        resolve: "устранён", reject: "отклонён", close: "закрыт", reopen: "открыт снова", duplicate: "дубликат",
        duplicate_linked: "привязан дубликат", updated: "изменён", closed_with: "закрыт вместе с основным", notified: "отправлено уведомление",
        escalate: "эскалация", overdue: "просрочен", geocoded: "адрес определён", link_removed: "связь снята" },
      categories: { leak: "Утечка / порыв", blockage: "Засор", gas_smell: "Запах газа", power_outage: "Нет электроэнергии",
        road_damage: "Повреждение дороги", no_water: "Нет воды", no_heat: "Нет отопления", low_pressure: "Низкое давление",
        flooding: "Подтопление", wire_down: "Обрыв провода", other: "Другое" },
      priorities: { 1: "1 — критический", 2: "2 — высокий", 3: "3 — обычный", 4: "4 — низкий" },
      features: ["объект", "объекта", "объектов"], incidentsWord: ["инцидент", "инцидента", "инцидентов"],
      openWord: "открытых", overdueWord: "просрочено"
    },
    en: {
      queue: "Shift queue", queueOperator: "My organisation's incidents", queuePlanner: "Open incidents",
      imports: "Latest layer imports",
      edits: "Latest feature edits", editActions: { create: "created", replace: "replaced", update: "updated", "delete": "deleted" },
      exportTitle: "Export", exportView: "The map's current view", exportOblast: "The whole oblast",
      exportArea: "Area", exportAnyOperator: "Every operator", exportFormat: "Format", exportGo: "Download", empty: "None",
      search: "Search: number or address", sound: "Sound", newArrived: "New incident #",
      groups: { overdue: "Overdue", "new": "New — to assign", assigned: "Assigned, not accepted",
        working: "Accepted / in work", resolved: "Resolved — to close" },
      groupsShort: { overdue: "overdue", "new": "new", assigned: "not accepted", working: "in work", resolved: "to close" },
      age: "ago", left: "left", late: "late by", noDeadline: "no deadline",
      min: "min", hour: "h", day: "d",
      report: "Report an incident", reportHere: "Report an incident on this asset",
      utility: "Utility", chooseUtility: "— choose the utility —", utilityNeeded: "Choose the utility",
      kind: "Kind", category: "Category", priority: "Priority",
      description: "Description", address: "Address", contact: "Reporter's contact", create: "Create (Enter)",
      cancel: "Cancel (Esc)", moveHint: "A click on the map moves the point; what you typed is kept.",
      pointOnAsset: "Point on the asset", pointClicked: "Point clicked",
      responsible: "Responsible", noOperator: "No operator found — assign by hand",
      reason: "Why", distance: "Distance, m", candidates: "Candidates", rule: "Rule",
      status: "Status", operator: "Operator", municipality: "Municipality",
      reported: "Reported", acceptDue: "Accept by", resolveDue: "Resolve by", overdueMark: "OVERDUE",
      escalation: ["", "↑ operator reminded", "↑ municipal centre", "↑ regional centre"],
      expected: "Expected restoration", consumers: "Consumers cut off", save: "Save",
      socialCut: "Social objects cut off", settlementsCut: "Settlements cut off",
      computedMark: "computed from the network", typedMark: "typed by a dispatcher",
      saved: "Saved", publicSummary: "For the public (Open311)",
      publicHint: "What residents see: no names, phone numbers or exact address",
      history: "History", addressCandidates: "Ambiguous address, check the place. Candidates for", duplicates: "Duplicates", duplicateOf: "Duplicate of incident #",
      plannedOutage: "Planned outage", comment: "Comment", commentNeeded: "A comment is needed",
      chooseOperator: "Operator to assign", changed: "Someone else changed the incident — the card is reloaded",
      updated: "The card was updated", created: "Incident created", failed: "Error: ", close: "Close the card",
      panel: "Panel", legendButton: "Legend", mine: "My districts",
      actions: { assign: "Assign", reassign: "Reassign", accept: "Accept", start: "Start work",
        resolve: "Resolved", reject: "Reject (not ours)", close: "Close", reopen: "Reopen",
        duplicate: "Duplicate" },
      masterIncident: "Duplicate of incident # (for 'Duplicate')", masterNeeded: "Give the number of the incident it repeats",
      statuses: { "new": "New", assigned: "Assigned", accepted: "Accepted", in_progress: "In progress",
        resolved: "Resolved", closed: "Closed", rejected: "Rejected", duplicate: "Duplicate" },
      kinds: { incident: "Incident", accident: "Accident", planned_outage: "Planned outage" },
      rules: { selected_feature: "the asset clicked", nearest_feature: "nearest network asset", service_area: "service area",
        designated: "designated by the municipality", unresolved: "unresolved", manual: "by hand" },
      events: { created: "created", assign: "assigned", reassign: "reassigned", accept: "accepted", start: "work started",
        resolve: "resolved", reject: "rejected", close: "closed", reopen: "reopened", duplicate: "duplicate",
        duplicate_linked: "duplicate linked", updated: "changed", closed_with: "closed with its master", notified: "notification sent",
        escalate: "escalated", overdue: "overdue", geocoded: "address placed", link_removed: "link removed" },
      categories: { leak: "Leak / burst", blockage: "Blockage", gas_smell: "Gas smell", power_outage: "Power outage",
        road_damage: "Road damage", no_water: "No water", no_heat: "No heating", low_pressure: "Low pressure",
        flooding: "Flooding", wire_down: "Wire down", other: "Other" },
      priorities: { 1: "1 — critical", 2: "2 — high", 3: "3 — normal", 4: "4 — low" },
      features: ["feature", "features"], incidentsWord: ["incident", "incidents"],
      openWord: "open", overdueWord: "overdue"
    }
  };

  // Which categories a report of each utility offers first (codes; words above).
  var CATEGORIES = {
    water: ["leak", "no_water", "low_pressure", "flooding", "other"],
    sewerage: ["blockage", "flooding", "other"],
    heat: ["leak", "no_heat", "other"],
    gas: ["gas_smell", "leak", "low_pressure", "other"],
    electricity: ["power_outage", "wire_down", "other"],
    roads: ["road_damage", "flooding", "other"]
  };

  /* "4 объекта", "1 feature": forms = [one, few, many] (ru) or [one, other] (en). */
  function plural(lang, n, forms) {
    var rule = new Intl.PluralRules(lang === "en" ? "en" : "ru").select(n);
    var index = lang === "en" ? (rule === "one" ? 0 : 1) : { one: 0, few: 1, many: 2 }[rule];
    return n + " " + forms[index === undefined ? forms.length - 1 : index];
  }

  /* A duration in minutes as "2 ч 05 мин" / "3 д 4 ч". */
  function duration(t, minutes) {
    var m = Math.abs(Math.round(minutes));
    if (m < 60) return m + " " + t.min;
    if (m < 48 * 60) return Math.floor(m / 60) + " " + t.hour + " " + String(m % 60).padStart(2, "0") + " " + t.min;
    return Math.floor(m / 1440) + " " + t.day + " " + Math.floor((m % 1440) / 60) + " " + t.hour;
  }

  window.GisWords = { T: T, CATEGORIES: CATEGORIES, plural: plural, duration: duration };
})();

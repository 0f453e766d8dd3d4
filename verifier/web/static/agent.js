// OrderSeal agent workspace: sign in with the agent API key, work the dispute queue (search,
// "my queue", cursor pages), and decide one dispute per screen with the buyer's file beside
// the sealed originals. Data comes only from the agent API; server text is set as text only.
"use strict";

(() => {
  const { $, el, APIError, client, time, media, signInOut } = window.OrderSealUI;
  const KEY = "orderseal.agentKey";
  const api = client(KEY);
  const show = (id, visible) => { $(id).hidden = !visible; };
  const state = { queue: [], cursor: null, current: null, loading: null, action: null };
  const ACTIONS = { approve: "approve", deny: "deny", request_evidence: "request more evidence" };
  const EVENTS = {
    packed: "Packed and sealed at the station",
    label_printed: "Shipping label printed",
    label_scanned: "Label scanned by the buyer",
    label_typed: "Label code typed by the buyer (not scanned)",
    unboxed: "Unboxing sealed by the buyer",
    reviewed: "Review photo sealed by the buyer",
    filed: "Dispute filed",
    decided: "Decided by OrderSeal",
    agent_decision: "Decision by an agent",
    evidence_requested: "More evidence requested",
    merchant_response: "Seller answered",
  };

  function setError(message) { $("error").textContent = message || ""; show("error", Boolean(message)); }
  function setStatus(message) { $("status").textContent = message || ""; show("status", Boolean(message)); }
  const decisionOf = (item) => item.decision || (item.verdict && item.verdict.decision) || "pending";
  const badge = (decision, big) => el("span", { class: `decision ${decision}${big ? " big" : ""}` }, decision);
  const list = (value) => (Array.isArray(value) ? value : []);

  function failed(error) {
    if (error instanceof APIError && error.status === 401) { signOut("The agent key was not accepted."); return true; }
    if (error instanceof APIError && error.status === 403) { signOut("This key is not an agent key: sign in with an agent API key."); return true; }
    return false;
  }

  // ---- queue -----------------------------------------------------------------------------
  function query(cursor) {
    const params = new URLSearchParams();
    const add = (name, value) => { if (value) params.set(name, value); };
    add("order_id", $("f-order").value.trim());
    add("buyer_id", $("f-buyer").value.trim());
    add("merchant_id", $("f-merchant").value.trim());
    add("decision", $("f-decision").value);
    add("reason", $("f-reason").value.trim());
    add("since", $("f-since").value);
    add("until", $("f-until").value);
    if ($("f-mine").checked) params.set("assigned", "me");
    add("limit", $("disputes").dataset.pageSize); // one screenful; "More" follows next_cursor
    add("cursor", cursor);
    const text = params.toString();
    return `/v1/disputes${text ? `?${text}` : ""}`;
  }

  function row(item) {
    const link = el("a", { href: `#dispute=${encodeURIComponent(item.dispute_id)}` }, item.dispute_id);
    const codes = list(item.reasons).map((r) => (typeof r === "string" ? r : r.code));
    return el("tr", { "data-decision": decisionOf(item), "data-id": item.dispute_id },
      el("td", {}, badge(decisionOf(item))),
      el("td", {}, link, assignee(item) ? el("span", { class: "small" }, ` · ${assignee(item)}`) : null),
      el("td", {}, item.order_id || ""),
      el("td", {}, item.buyer_id || ""),
      el("td", {}, `${item.claim_type || ""} · ${item.amount || ""} ${item.currency || ""}`),
      el("td", {}, ...(codes.length ? codes.map((c) => el("code", { class: "code" }, c)) : [el("span", { class: "small" }, "none")])),
      el("td", { class: "small" }, time(item.filed_at || item.created_at)));
  }
  function assignee(item) {
    const a = item.assignment;
    return (a && a.agent) || item.assigned_to || null;
  }

  async function loadQueue(more) {
    let data;
    try {
      data = await api.call(query(more ? state.cursor : null));
    } catch (error) {
      if (!failed(error)) setError(`${error.message} (${error.code})`);
      return false;
    }
    setError("");
    const items = list(data.disputes);
    state.queue = more ? [...state.queue, ...items.map((i) => i.dispute_id)] : items.map((i) => i.dispute_id);
    state.cursor = data.next_cursor || null;
    const body = $("disputes").tBodies[0];
    if (more) body.append(...items.map(row)); else body.replaceChildren(...items.map(row));
    show("list-empty", state.queue.length === 0);
    show("more", Boolean(state.cursor));
    return true;
  }

  async function showList() {
    api.releaseMedia();
    show("workspace", false);
    show("list", true);
    await loadQueue(false);
  }

  // ---- one dispute ---------------------------------------------------------------------------
  function figure(file, fallbackTitle) {
    const caption = [
      el("strong", {}, file.filename || file.title || fallbackTitle),
      el("br"),
      el("span", { class: "small" }, file.media_type || "unknown type"),
    ];
    const sealed = file.sealed_at || file.attached_at;
    if (sealed) caption.push(el("span", { class: "small" }, file.sealed_at ? " · sealed " : " · attached "), time(sealed));
    if (file.decision) caption.push(" ", badge(file.decision));
    list(file.reasons).forEach((r) => caption.push(el("div", { class: "small" }, r.sentence || r.message || r.code)));
    return media(api, {
      url: file.url || file.file_url,
      thumbnailUrl: file.thumbnail_url,
      mediaType: file.media_type,
      caption,
      alt: file.filename || file.title || fallbackTitle,
    });
  }

  function fill(id, files, empty) {
    $(id).replaceChildren(...(files.length ? files.map((f) => figure(f, "file")) : [el("p", { class: "small" }, empty)]));
  }

  // A submitted file: a copy traced to its sealed original (issue 19 §1) is shown beside
  // that original, and a photo that may be a picture of a screen says so (advice, §2).
  function submittedItem(file) {
    const shown = figure(file, "file");
    if (file.recapture_suspected) {
      shown.querySelector("figcaption").append(el("div", { class: "advice recapture", "data-recapture": String(file.recapture_score) },
        `Possible photo of a screen (recapture score ${Number(file.recapture_score).toFixed(1)}; advice only)`));
    }
    if (!file.recovered_file_url) return shown;
    const original = figure({
      url: file.recovered_file_url,
      title: `Sealed original ${file.recovered_evidence_id}`,
      media_type: file.media_type,
    }, "sealed original");
    return el("div", { class: "recovered-pair", "data-recovered": file.recovered_evidence_id },
      el("p", { class: "small" }, "No Content Credentials: traced to this sealed original, and judged on it"),
      el("div", { class: "pair" }, shown, original));
  }

  function checkItem(c) {
    const passed = Boolean(c.passed);
    const code = c.code || null;
    const detail = el("details", {},
      el("summary", {}, "technical detail"),
      el("p", {}, "check ", el("code", { class: "code" }, c.check || "")),
      code ? el("p", {}, "reason code ", el("code", { class: "code" }, code)) : null,
      c.technical_detail || c.detail ? el("p", { class: "small" }, c.technical_detail || c.detail) : null);
    // Reuse and similar findings name the other dispute: link it, one click from the check.
    const others = list(c.related_disputes);
    return el("li", { class: passed ? "pass" : "fail" },
      el("span", { class: "mark", "aria-hidden": "true" }, passed ? "✓" : "✗"),
      el("span", { class: "sr-only" }, passed ? "passed: " : "failed: "),
      el("strong", {}, c.label || c.check || "check"),
      !passed && c.explanation ? el("span", {}, ` — ${c.explanation}`) : null,
      others.length ? el("div", { class: "small" }, "Also in ", ...others.map((id, i) => [i ? ", " : "",
        el("a", { href: `#dispute=${encodeURIComponent(id)}` }, id)])) : null,
      detail);
  }

  function renderChecks(checks) {
    // Grouped by the file they ran on, failed ones first inside each file.
    const groups = new Map();
    checks.forEach((c) => {
      const name = c.filename || "";
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(c);
    });
    const parts = [];
    groups.forEach((items, name) => {
      const sorted = [...items].sort((x, y) => Number(Boolean(x.passed)) - Number(Boolean(y.passed)));
      if (name) parts.push(el("h3", {}, name));
      parts.push(el("ul", { class: "checks" }, ...sorted.map(checkItem)));
    });
    $("checks").replaceChildren(...(parts.length ? parts : [el("p", { class: "small" }, "No file was checked yet.")]));
  }

  function renderTimeline(events) {
    $("timeline").replaceChildren(...(events.length ? events.map((e) => {
      const what = EVENTS[e.event] || e.event || e.what || "event";
      return el("li", { "data-event": e.event || "" }, time(e.at), " ", el("strong", {}, what),
        e.actor ? el("span", { class: "small" }, ` · ${e.actor}`) : null,
        e.detail ? el("div", { class: "small" }, e.detail) : null);
    }) : [el("li", { class: "small empty" }, "Nothing recorded yet.")]));
  }

  function relationText(relation) {
    const words = {
      evidence_reused: "the same file (or a near copy) is attached to this dispute",
      same_buyer: "another dispute by the same buyer",
    };
    return words[relation] || String(relation || "related").replaceAll("_", " ");
  }

  function renderRelated(related) {
    $("related").replaceChildren(...(related.length ? related.map((r) => el("li", {},
      el("a", { href: `#dispute=${encodeURIComponent(r.dispute_id)}` }, r.dispute_id),
      el("span", {}, ` — ${relationText(r.relation)}${r.order_id ? ` (order ${r.order_id})` : ""}`),
      r.detail ? el("div", { class: "small" }, r.detail) : null)) : [el("li", { class: "small empty" }, "None.")]));
  }

  function renderResponses(responses) {
    $("responses").replaceChildren(...(responses.length ? responses.map((r) => el("article", { class: "response" },
      el("p", { class: "small" }, r.merchant_id ? `${r.merchant_id} · ` : "", time(r.created_at)),
      el("p", { class: "statement" }, r.statement || ""),
      list(r.evidence_ids).length ? el("p", { class: "small" }, "Points to sealed evidence: ",
        ...list(r.evidence_ids).map((id) => el("code", { class: "code" }, id))) : null))
      : [el("p", { class: "small" }, "The seller has not answered.")]));
  }

  function renderDecisions(decisions) {
    $("agent-decisions").replaceChildren(...(decisions.length ? decisions.map((d) => el("li", {},
      time(d.decided_at), " ", el("strong", {}, ACTIONS[d.action] || d.action || ""),
      d.agent ? el("span", { class: "small" }, ` by ${d.agent}`) : null,
      el("div", { class: "note" }, d.note || ""))) : [el("li", { class: "small empty" }, "None yet.")]));
  }

  function renderAssignment(assignment) {
    const who = assignment && assignment.agent;
    $("w-assignee").textContent = who ? `Assigned to ${who}` : "Not assigned";
    show("unassign", Boolean(who));
  }

  function render(doc) {
    const dispute = doc.dispute;
    const verdict = doc.verdict || {};
    const decision = decisionOf(dispute);
    state.current = dispute.dispute_id;
    $("verdict").className = `card verdict ${decision}`;
    $("decision").replaceChildren(badge(decision, true));
    $("w-title").textContent = `Dispute ${dispute.dispute_id}`;
    $("w-facts").replaceChildren(
      `Order ${dispute.order_id} · buyer ${dispute.buyer_id}`,
      dispute.merchant_id ? ` · seller ${dispute.merchant_id}` : "",
      ` · ${dispute.claim_type} · ${dispute.amount} ${dispute.currency}`,
      dispute.status === "awaiting_evidence" ? " · waiting for more evidence" : "");
    $("w-times").replaceChildren("Filed ", time(dispute.filed_at), " · decided ", time(dispute.decided_at),
      verdict.decided_by === "agent" ? " by an agent" : "");
    const reasons = list(verdict.reasons);
    $("reasons").replaceChildren(...(reasons.length
      ? reasons.map((r) => el("li", {}, r.sentence || r.code, " ", el("code", { class: "code" }, r.code)))
      : [el("li", { class: "none" }, verdict.decision ? "No objection: every check passed." : "Not decided yet.")]));
    const sealed = list(doc.sealed_originals).map((m) => ({ ...m, url: m.file_url }));
    const submitted = list(doc.submitted_files);
    $("submitted").replaceChildren(...(submitted.length ? submitted.map(submittedItem) : [el("p", { class: "small" }, "The buyer attached no file.")]));
    fill("shipment", sealed.filter((m) => m.stage === "shipment"), "No packing capture recorded.");
    fill("receipt", sealed.filter((m) => m.stage === "receipt"), "No unboxing capture recorded.");
    renderChecks(list(verdict.checks));
    $("trace").replaceChildren(...list(doc.policy_trace).map((r) => el("tr", { class: r.fired ? "fired" : "silent" },
      el("td", {}, r.label || r.rule, " ", el("code", { class: "code" }, r.rule)), el("td", {}, r.fired ? "fired" : "silent"), el("td", { class: "small" }, r.detail || ""))));
    renderTimeline(list(doc.timeline));
    renderRelated(list(doc.related_disputes));
    renderResponses(list(doc.merchant_responses));
    renderDecisions(list(doc.agent_decisions));
    renderAssignment(dispute.assignment || null);
    const open = decision === "review";
    show("decide-form", open);
    show("decide-closed", !open);
    $("note").value = "";
    arm(null);
    updateButtons();
    $("prev").disabled = state.queue.indexOf(state.current) <= 0;
    $("next").disabled = state.queue.indexOf(state.current) === -1 || state.queue.indexOf(state.current) >= state.queue.length - 1;
  }

  async function showWorkspace(id) {
    api.releaseMedia();
    show("list", false);
    state.loading = id;
    let doc;
    try {
      doc = await api.call(`/v1/disputes/${encodeURIComponent(id)}/workspace`);
    } catch (error) {
      if (state.loading !== id) return;
      if (failed(error)) return;
      setError(error.status === 404 ? `No dispute ${id}.` : `${error.message} (${error.code})`);
      show("list", true);
      return;
    }
    setError("");
    if (state.queue.length === 0) await loadQueue(false); // j/k follow the queue's order
    if (state.loading !== id) return; // the agent moved on (j/k) while this one loaded
    const moved = state.current !== id;
    render(doc);
    show("workspace", true);
    if (moved) $("w-title").focus(); // a screen reader starts at the new dispute's title
  }

  // ---- decisions and assignment ------------------------------------------------------------
  function updateButtons() {
    const empty = $("note").value.trim() === "";
    document.querySelectorAll("button.act").forEach((b) => { b.disabled = empty; });
  }
  function arm(action) {
    state.action = action;
    document.querySelectorAll("button.act").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.action === action)));
  }

  async function decide(action) {
    const note = $("note").value.trim();
    if (!note || !state.current) return;
    try {
      await api.call(`/v1/disputes/${encodeURIComponent(state.current)}/agent-decision`, { method: "POST", body: { action, note } });
    } catch (error) {
      if (!failed(error)) setError(`${error.message} (${error.code})`);
      return;
    }
    setStatus(`Recorded: ${ACTIONS[action]} on ${state.current}.`);
    await showWorkspace(state.current);
  }

  async function assign(agent) {
    try {
      await api.call(`/v1/disputes/${encodeURIComponent(state.current)}/assignment`, { method: "POST", body: { agent } });
    } catch (error) {
      if (!failed(error)) setError(`${error.message} (${error.code})`);
      return;
    }
    setStatus(agent ? `${state.current} is in your queue.` : `${state.current} is unassigned.`);
    await showWorkspace(state.current);
  }

  function step(delta) {
    const at = state.queue.indexOf(state.current);
    const next = state.queue[at + delta];
    if (at !== -1 && next) window.location.hash = `dispute=${encodeURIComponent(next)}`;
  }

  // ---- keyboard --------------------------------------------------------------------------
  function typing(target) {
    return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
  }
  function onKey(event) {
    if (!sessionStorage.getItem(KEY) || event.altKey || event.metaKey) return;
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.target === $("note") && event.key === "Enter" && event.ctrlKey) {
      event.preventDefault();
      if (state.action) decide(state.action);
      return;
    }
    if (typing(event.target) || event.ctrlKey) return;
    const inWorkspace = !$("workspace").hidden;
    const keys = {
      "?": () => toggleHelp(),
      "/": () => { window.location.hash = ""; $("f-order").focus(); },
      u: () => { window.location.hash = ""; },
    };
    if (inWorkspace) {
      Object.assign(keys, {
        j: () => step(1),
        k: () => step(-1),
        a: () => focusDecision("approve"),
        d: () => focusDecision("deny"),
        e: () => focusDecision("request_evidence"),
      });
    }
    const handler = keys[event.key];
    if (handler) { event.preventDefault(); handler(); }
  }
  function focusDecision(action) {
    if ($("decide-form").hidden) return;
    arm(action);
    $("note").focus();
  }
  function toggleHelp() {
    const open = $("help").hidden;
    show("help", open);
    $("help-toggle").setAttribute("aria-expanded", String(open));
  }

  // ---- navigation and sign-in --------------------------------------------------------------
  function route() {
    const signedIn = Boolean(sessionStorage.getItem(KEY));
    show("signin", !signedIn);
    show("signout", signedIn);
    show("help-toggle", signedIn);
    if (!signedIn) { show("list", false); show("workspace", false); return; }
    const id = new URLSearchParams(window.location.hash.slice(1)).get("dispute");
    if (id) showWorkspace(id); else showList();
  }

  // Bound on DOMContentLoaded (ui.js signInOut); a 401 signs out through it.
  let signOut = () => {};

  document.addEventListener("DOMContentLoaded", () => {
    signOut = signInOut(KEY, api, { setError, setStatus, route });
    $("help-toggle").addEventListener("click", toggleHelp);
    $("filters").addEventListener("submit", (event) => { event.preventDefault(); if (window.location.hash) window.location.hash = ""; else showList(); });
    $("more").addEventListener("click", () => loadQueue(true));
    $("open-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("open-id").value.trim();
      if (id) window.location.hash = `dispute=${encodeURIComponent(id)}`;
    });
    $("back").addEventListener("click", (event) => { event.preventDefault(); window.location.hash = ""; });
    $("prev").addEventListener("click", () => step(-1));
    $("next").addEventListener("click", () => step(1));
    $("note").addEventListener("input", updateButtons);
    document.querySelectorAll("button.act").forEach((b) => b.addEventListener("click", () => decide(b.dataset.action)));
    $("assign-me").addEventListener("click", () => assign("me"));
    $("unassign").addEventListener("click", () => assign(null));
    document.addEventListener("keydown", onKey);
    window.addEventListener("hashchange", () => { setStatus(""); route(); });
    route();
  });
})();

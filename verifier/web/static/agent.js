// OrderSeal agent pages: sign in with the agent API key, list disputes with filters, and
// show one dispute's decision and reasons at a glance. Data comes only from the agent API.
"use strict";

(() => {
  const KEY = "orderseal.agentKey";
  const $ = (id) => document.getElementById(id);
  const show = (id, visible) => { $(id).hidden = !visible; };
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "class") node.className = v; else node.setAttribute(k, v); });
    children.forEach((c) => node.append(c));
    return node;
  }
  function setError(message) { $("error").textContent = message || ""; show("error", Boolean(message)); }

  class APIError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = (data && data.error) || { code: "http_error", message: `HTTP ${response.status}` };
      throw new APIError(response.status, error.code, error.message);
    }
    return data;
  }

  // A verdict's reasons, whether the API gives codes or {code, message} objects.
  function reasonsOf(item) {
    const source = item.reasons || (item.verdict && item.verdict.reasons) || [];
    return source.map((r) => (typeof r === "string" ? { code: r, message: "" } : r));
  }
  function decisionOf(item) { return item.decision || (item.verdict && item.verdict.decision) || "pending"; }
  function badge(decision, big) {
    return el("span", { class: `decision ${decision}${big ? " big" : ""}` }, decision);
  }

  // ---- list ------------------------------------------------------------------------------
  function filters() {
    return {
      decision: $("f-decision").value,
      reason: $("f-reason").value.trim(),
      since: $("f-since").value,
      until: $("f-until").value,
    };
  }

  function matches(item, f) {
    // Applied here as well as by the server, so the view is right whatever the API returns.
    if (f.decision && decisionOf(item) !== f.decision) return false;
    if (f.reason && !reasonsOf(item).some((r) => r.code === f.reason)) return false;
    const day = (item.decided_at || item.created_at || "").slice(0, 10);
    if (f.since && day && day < f.since) return false;
    if (f.until && day && day > f.until) return false;
    return true;
  }

  async function showList() {
    show("report", false);
    show("list", true);
    const f = filters();
    const query = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    let items;
    try {
      const data = await api(`/v1/disputes${query.toString() ? `?${query}` : ""}`);
      items = Array.isArray(data) ? data : data.disputes || data.items || [];
      show("list-unavailable", false);
    } catch (error) {
      if (error.status === 401) { signOut("The agent key was not accepted."); return; }
      if (error.status === 404 || error.status === 405 || error.status === 403) {
        show("list-unavailable", true);
        items = [];
      } else { setError(error.message); return; }
    }
    const rows = items.filter((item) => matches(item, f)).map((item) => {
      const link = el("a", { href: `#dispute=${encodeURIComponent(item.dispute_id)}` }, item.dispute_id);
      const reasons = reasonsOf(item);
      return el("tr", { "data-decision": decisionOf(item) },
        el("td", {}, badge(decisionOf(item))),
        el("td", {}, link),
        el("td", {}, item.order_id || ""),
        el("td", {}, `${item.claim_type || ""} · ${item.amount || ""} ${item.currency || ""}`),
        el("td", {}, ...(reasons.length ? reasons.map((r) => el("code", { class: "code" }, r.code)) : [el("span", { class: "small" }, "none")])),
        el("td", { class: "small" }, when(item.decided_at)));
    });
    $("disputes").tBodies[0].replaceChildren(...rows);
    show("list-empty", rows.length === 0 && $("list-unavailable").hidden);
  }

  // ---- report ----------------------------------------------------------------------------
  async function showReport(id) {
    show("list", false);
    let dispute;
    try {
      dispute = await api(`/v1/disputes/${encodeURIComponent(id)}/report.json`);
    } catch (error) {
      if (error.status === 401) { signOut("The agent key was not accepted."); return; }
      setError(error.status === 404 ? `No dispute ${id}.` : error.message);
      show("list", true);
      return;
    }
    setError("");
    const verdict = dispute.verdict || {};
    const decision = decisionOf(dispute);
    $("verdict").className = `card verdict ${decision}`;
    $("decision").replaceChildren(badge(decision, true));
    $("r-title").textContent = `Dispute ${dispute.dispute_id}`;
    $("r-facts").textContent = `Order ${dispute.order_id} · buyer ${dispute.buyer_id} · ${dispute.claim_type} · ${dispute.amount} ${dispute.currency}`;
    $("r-decided").textContent = `Filed ${when(dispute.created_at)} · decided ${when(dispute.decided_at)}`;
    const reasons = reasonsOf(dispute);
    $("reasons").replaceChildren(...(reasons.length
      ? reasons.map((r) => el("li", {}, el("code", { class: "code" }, r.code), r.message ? ` — ${r.message}` : ""))
      : [el("li", { class: "none" }, "No objection: every check passed.")]));
    $("evidence").replaceChildren(...(verdict.evidence || []).map((ev) => {
      const checks = (ev.checks || []).map((c) => el("tr", { class: c.passed ? "pass" : "fail" },
        el("td", {}, c.check || ""),
        el("td", {}, c.passed ? "pass" : (c.code || "fail")),
        el("td", { class: "small" }, c.detail || "")));
      return el("section", { class: "evidence" },
        el("h3", {}, badge(ev.decision || "pending"), " ", ev.filename || ev.evidence_id || "file"),
        el("p", { class: "small" }, `Stage ${ev.stage || "—"} · manifest ${ev.manifest_id || "none"} · SHA-256 ${(ev.content_sha256 || "").slice(0, 16)}…`),
        el("table", { class: "checks" }, el("thead", {}, el("tr", {}, el("th", {}, "Check"), el("th", {}, "Result"), el("th", {}, "Detail"))), el("tbody", {}, ...checks)));
    }));
    $("history").replaceChildren(...(dispute.history || []).map((v) => el("li", {}, badge(v.decision), ` ${when(v.decided_at)}`)));
    show("report", true);
  }

  // ---- navigation and sign-in --------------------------------------------------------------
  function route() {
    if (!sessionStorage.getItem(KEY)) { show("signin", true); show("list", false); show("report", false); return; }
    show("signin", false);
    show("signout", true);
    const id = new URLSearchParams(window.location.hash.slice(1)).get("dispute");
    if (id) showReport(id); else showList();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    show("signout", false);
    setError(message || "");
    route();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-go").addEventListener("click", () => {
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      $("key").value = "";
      setError("");
      route();
    });
    $("signout").addEventListener("click", () => signOut());
    $("filters").addEventListener("submit", (event) => { event.preventDefault(); showList(); });
    $("open-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("open-id").value.trim();
      if (id) window.location.hash = `dispute=${encodeURIComponent(id)}`;
    });
    $("back").addEventListener("click", (event) => { event.preventDefault(); window.location.hash = ""; });
    window.addEventListener("hashchange", route);
    route();
  });
})();

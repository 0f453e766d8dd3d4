// OrderSeal seller page: sign in with the merchant API key, see the disputes on the store's
// own orders (verdict, reasons, who the outcome counts against), the sealed packing media
// beside what the buyer submitted, and answer with a statement and the sealed evidence.
// Data comes only from /v1/merchant/*; buyer-supplied text is set as text only.
"use strict";

(() => {
  const { $, el, APIError, client, time, media, signInOut } = window.OrderSealUI;
  const KEY = "orderseal.merchantKey";
  const api = client(KEY);
  const show = (id, visible) => { $(id).hidden = !visible; };
  const list = (value) => (Array.isArray(value) ? value : []);
  const state = { cursor: null, current: null };
  // What a verdict's attribution means for the store, in its own words.
  const ATTRIBUTION = {
    merchant: "Wrong item shipped — counted against your store.",
    buyer: "The buyer's item differs from what you packed — counted against the buyer, not your store.",
  };

  function setError(message) { $("error").textContent = message || ""; show("error", Boolean(message)); }
  function setStatus(message) { $("status").textContent = message || ""; show("status", Boolean(message)); }
  const badge = (decision, big) => el("span", { class: `decision ${decision || "pending"}${big ? " big" : ""}` }, decision || "pending");
  const decisionOf = (item) => item.decision || (item.verdict && item.verdict.decision) || null;
  const attributionText = (item) => ATTRIBUTION[item.attribution] || (decisionOf(item) ? "Not counted against your store." : "Not decided yet.");

  function failed(error) {
    if (error instanceof APIError && (error.status === 401 || error.status === 403)) {
      signOut(error.status === 401 ? "The merchant key was not accepted." : "This key is not a merchant key.");
      return true;
    }
    return false;
  }

  // ---- list ------------------------------------------------------------------------------
  function row(item) {
    return el("tr", { "data-id": item.dispute_id },
      el("td", {}, badge(decisionOf(item))),
      el("td", {}, el("a", { href: `#dispute=${encodeURIComponent(item.dispute_id)}` }, item.dispute_id)),
      el("td", {}, item.order_id || ""),
      el("td", {}, `${item.claim_type || ""} · ${item.amount || ""} ${item.currency || ""}`),
      el("td", { class: item.attribution ? `attr-${item.attribution}` : "" }, attributionText(item), " ",
        ...list(item.reason_codes).map((code) => el("code", { class: "code" }, code))),
      el("td", { class: "small" }, time(item.created_at)));
  }

  async function loadList(more) {
    let data;
    try {
      const cursor = more && state.cursor ? `?cursor=${encodeURIComponent(state.cursor)}` : "";
      data = await api.call(`/v1/merchant/disputes${cursor}`);
    } catch (error) {
      if (!failed(error)) setError(`${error.message} (${error.code})`);
      return;
    }
    setError("");
    const rows = list(data.disputes).map(row);
    const body = $("disputes").tBodies[0];
    if (more) body.append(...rows); else body.replaceChildren(...rows);
    state.cursor = data.next_cursor || null;
    show("more", Boolean(state.cursor));
    show("list-empty", body.rows.length === 0);
  }

  // ---- one dispute ---------------------------------------------------------------------------
  function figure(file) {
    const name = file.title || (file.content_sha256 ? `Buyer's file ${file.content_sha256.slice(0, 12)}…` : "file");
    const caption = [el("strong", {}, name), el("br"), el("span", { class: "small" }, file.media_type || "unknown type")];
    if (file.sealed_at) caption.push(el("span", { class: "small" }, " · sealed "), time(file.sealed_at));
    if (file.attached_at) caption.push(el("span", { class: "small" }, " · submitted "), time(file.attached_at));
    if (file.decision) caption.push(" ", badge(file.decision));
    list(file.reason_codes).forEach((code) => caption.push(" ", el("code", { class: "code" }, code)));
    return media(api, { url: file.file_url, thumbnailUrl: file.thumbnail_url, mediaType: file.media_type, caption, alt: name });
  }
  function fill(id, files, empty) {
    $(id).replaceChildren(...(files.length ? files.map(figure) : [el("p", { class: "small" }, empty)]));
  }

  function render(d) {
    state.current = d.dispute_id;
    const decision = decisionOf(d);
    $("verdict").className = `card verdict ${decision || ""}`;
    $("decision").replaceChildren(badge(decision, true));
    $("d-title").textContent = `Dispute ${d.dispute_id}`;
    // The buyer only as far as the platform's setting allows (a pseudonym, the id, or none).
    $("d-facts").textContent = `Order ${d.order_id} · ${d.claim_type} · ${d.amount} ${d.currency}${d.buyer ? ` · buyer ${d.buyer}` : ""}`;
    $("d-times").replaceChildren("Filed ", time(d.created_at), " · decided ", time(d.decided_at));
    $("attribution").className = `attribution ${d.attribution || ""}`;
    $("attribution").textContent = attributionText(d);
    const reasons = list(d.reasons);
    $("reasons").replaceChildren(...(reasons.length
      ? reasons.map((r) => el("li", {}, r.message || r.code, " ", el("code", { class: "code" }, r.code)))
      : [el("li", {}, decision ? "No objection found in the evidence." : "Not decided yet.")]));
    const sealed = list(d.shipment_evidence);
    fill("packing", sealed, "No sealed packing capture for this order.");
    fill("submitted", list(d.buyer_files), "The buyer attached no file.");
    $("responses").replaceChildren(...list(d.responses).map((r) => el("article", { class: "response" },
      el("p", { class: "small" }, "You answered ", time(r.created_at)),
      el("p", { class: "statement" }, r.statement || ""),
      list(r.evidence_ids).length ? el("p", { class: "small" }, "Pointing to ", ...list(r.evidence_ids).map((id) => el("code", { class: "code" }, id))) : null)));
    const choices = sealed.filter((m) => m.evidence_id).map((m, index) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "evidence", value: m.evidence_id, checked: index === 0 }),
      `${m.title || m.evidence_id} (${m.media_type || "file"})`));
    $("pick").replaceChildren(el("legend", {}, "Point to your sealed evidence"),
      ...(choices.length ? choices : [el("p", { class: "small" }, "No sealed packing capture to point to.")]));
    $("statement").value = "";
    $("respond-go").disabled = true;
  }

  async function showDetail(id) {
    api.releaseMedia();
    show("list", false);
    let doc;
    try {
      doc = await api.call(`/v1/merchant/disputes/${encodeURIComponent(id)}`);
    } catch (error) {
      if (failed(error)) return;
      // Another store's dispute answers exactly like a missing one.
      setError(error.status === 404 ? `No dispute ${id} on your orders.` : `${error.message} (${error.code})`);
      show("list", true);
      return;
    }
    setError("");
    render(doc);
    show("detail", true);
  }

  async function respond(event) {
    event.preventDefault();
    const statement = $("statement").value.trim();
    if (!statement || !state.current) return;
    const ids = [...document.querySelectorAll('#pick input[name="evidence"]:checked')].map((i) => i.value);
    try {
      await api.call(`/v1/merchant/disputes/${encodeURIComponent(state.current)}/responses`, { method: "POST", body: { statement, evidence_ids: ids } });
    } catch (error) {
      if (!failed(error)) setError(`${error.message} (${error.code})`);
      return;
    }
    await showDetail(state.current);
    setStatus("Your answer was sent to the platform's dispute agent.");
  }

  // ---- navigation and sign-in --------------------------------------------------------------
  function route() {
    const signedIn = Boolean(sessionStorage.getItem(KEY));
    show("signin", !signedIn);
    show("signout", signedIn);
    if (!signedIn) { show("list", false); show("detail", false); return; }
    const id = new URLSearchParams(window.location.hash.slice(1)).get("dispute");
    if (id) { showDetail(id); return; }
    api.releaseMedia();
    show("detail", false);
    show("list", true);
    loadList(false);
  }

  // Bound on DOMContentLoaded (ui.js signInOut); a 401 signs out through it.
  let signOut = () => {};

  document.addEventListener("DOMContentLoaded", () => {
    signOut = signInOut(KEY, api, { setError, setStatus, route });
    $("more").addEventListener("click", () => loadList(true));
    $("back").addEventListener("click", (event) => { event.preventDefault(); window.location.hash = ""; });
    $("statement").addEventListener("input", () => { $("respond-go").disabled = $("statement").value.trim() === ""; });
    $("respond-form").addEventListener("submit", respond);
    window.addEventListener("hashchange", () => { setStatus(""); route(); });
    route();
  });
})();

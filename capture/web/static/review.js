// OrderSeal buyer page, review stage (issue 19 §3): after the sealed receipt, the buyer takes
// photos for a product review on the same page. They are sealed at stage "review", chained to
// the buyer's own receipt of the order. Uses the signed-in page's device key and camera
// (window.OrderSealPage, set by capture.js); the server checks the order, the buyer and that
// the receipt is closed.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const review = { orderId: null, session: null, count: 0 };

  function page() { return window.OrderSealPage; }
  function t(key, values) { return page().t(key, values); }
  function status(text) { $("review-status").textContent = text || ""; }

  function reasonText(error) {
    const known = `review.refusal.${error.code}`;
    return t(known) !== known ? t(known) : (error.message || error.code);
  }

  // The receipt result became visible: offer review photos for that order.
  function offer() {
    const orderId = $("result-order").textContent.trim();
    if (!orderId) return;
    if (orderId !== review.orderId) {
      review.orderId = orderId;
      review.session = null;
      review.count = 0;
      $("review-list").replaceChildren();
      status("");
      $("review-open").hidden = false;
      $("review-capture").hidden = true;
    }
    $("step-review").hidden = false;
  }

  async function open() {
    status("");
    $("review-open").disabled = true;
    try {
      review.session = await page().api("POST", "/v1/review-sessions", { order_id: review.orderId });
      $("review-open").hidden = true;
      $("review-capture").hidden = false;
      status(t("review.ready"));
    } catch (error) {
      status(t("review.refused", { reason: reasonText(error) }));
    } finally {
      $("review-open").disabled = false;
    }
  }

  function frame() {
    const video = $("preview");
    if (!video.srcObject || !video.videoWidth) return Promise.resolve(null);
    const canvas = $("frame");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
  }

  // The device signs the same canonical statement as for a receipt, with stage "review".
  async function headers(blob, title) {
    const { state, sign, b64url, hex } = page();
    const bytes = await blob.arrayBuffer();
    const sha256 = hex(await crypto.subtle.digest("SHA-256", bytes));
    const statement = JSON.stringify({
      captured_at: new Date().toISOString(),
      content_sha256: sha256,
      device_id: state.device.device_id,
      order_id: review.session.order_id,
      session_id: review.session.session_id,
      stage: "review",
    });
    const encoded = new TextEncoder().encode(statement);
    return {
      Authorization: `Bearer ${state.token}`,
      "Content-Type": "application/octet-stream",
      "X-OrderSeal-Device": state.device.device_id,
      "X-OrderSeal-Statement": b64url(encoded),
      "X-OrderSeal-Statement-Signature": await sign(encoded),
      "X-OrderSeal-Content-SHA256": sha256,
      "X-OrderSeal-Title": title,
      "Idempotency-Key": crypto.randomUUID(),
    };
  }

  async function takePhoto() {
    const blob = await frame();
    if (!blob) { status(t("review.noCamera")); return; }
    review.count += 1;
    const title = `review-photo-${review.count}.jpg`;
    const item = page().el("li", { class: "capture review-capture" }, page().el("span", {}, title), " ",
      page().el("span", { class: "small review-state" }, t("review.sealing")));
    $("review-list").append(item);
    $("review-photo").disabled = true;
    try {
      const url = `/v1/review-sessions/${encodeURIComponent(review.session.session_id)}/evidence`;
      const response = await fetch(url, { method: "PUT", headers: await headers(blob, title), body: blob });
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        const error = (data && data.error) || { code: "http_error", message: `HTTP ${response.status}` };
        item.classList.add("refused");
        item.querySelector(".review-state").textContent = t("review.refused", { reason: reasonText(error) });
        return;
      }
      item.classList.add("sealed");
      item.dataset.evidence = data.evidence_id;
      item.querySelector(".review-state").textContent = t("review.sealed");
    } catch (_) {
      item.classList.add("refused");
      item.querySelector(".review-state").textContent = t("review.offline");
    } finally {
      $("review-photo").disabled = false;
    }
  }

  async function finish() {
    try {
      await page().api("POST", `/v1/review-sessions/${encodeURIComponent(review.session.session_id)}/finish`);
      const sealed = $("review-list").querySelectorAll(".sealed").length;
      $("review-capture").hidden = true;
      status(t("review.done", { n: sealed }));
    } catch (error) {
      status(t("review.refused", { reason: reasonText(error) }));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("review-open").addEventListener("click", open);
    $("review-photo").addEventListener("click", takePhoto);
    $("review-finish").addEventListener("click", finish);
    const result = $("step-result");
    const watch = new MutationObserver(() => { if (!result.hidden) offer(); else $("step-review").hidden = true; });
    watch.observe(result, { attributes: true, attributeFilter: ["hidden"] });
    watch.observe($("result-order"), { childList: true, characterData: true, subtree: true });
  });
})();

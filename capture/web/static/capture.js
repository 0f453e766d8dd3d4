// OrderSeal buyer capture page: sign in, enrol this browser's key, scan the parcel QR,
// capture live photos and video, upload with progress and retries, show the sealed result.
// The device key is a non-extractable WebCrypto P-256 key kept in IndexedDB.
"use strict";

(() => {
  const TOKEN_KEY = "orderseal.buyerToken";
  const DB_NAME = "orderseal";
  const DB_STORE = "devices";
  const MAX_VIDEO_MS = 20000;
  const MAX_ATTEMPTS = 8;
  const VIDEO_TYPES = ["video/mp4;codecs=avc1", "video/mp4", "video/webm;codecs=vp9", "video/webm"];

  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
    buyerId: null,
    device: null, // { device_id, keyPair }
    stream: null,
    scanning: false,
    session: null, // SessionOut
    captures: [],
    recorder: null,
    counter: { photo: 0, video: 0 },
  };

  // ---- small helpers -------------------------------------------------------------------
  function show(id, visible) { $(id).hidden = !visible; }
  function setError(message) { $("error").textContent = message || ""; show("error", Boolean(message)); }
  function b64(bytes) {
    let text = "";
    const view = new Uint8Array(bytes);
    for (let i = 0; i < view.length; i += 1) text += String.fromCharCode(view[i]);
    return btoa(text);
  }
  function b64url(bytes) { return b64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""); }
  function hex(bytes) { return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join(""); }
  function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "class") node.className = v; else node.setAttribute(k, v); });
    children.forEach((c) => node.append(c));
    return node;
  }

  class APIError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = (data && data.error) || { code: "http_error", message: `HTTP ${response.status}` };
      throw new APIError(response.status, error.code, error.message);
    }
    return data;
  }

  function buyerOf(token) {
    // The token is verified by the server; the page only reads who it names for display
    // and for the enrolment message (the server checks it against the real subject).
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    try {
      const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
      return JSON.parse(json).sub || null;
    } catch (_) { return null; }
  }

  // ---- IndexedDB: this browser's device keys -------------------------------------------
  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE, { keyPath: "device_id" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  async function dbRun(mode, work) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(DB_STORE, mode);
      const result = work(tx.objectStore(DB_STORE));
      tx.oncomplete = () => resolve(result.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  const dbAll = () => dbRun("readonly", (store) => store.getAll());
  const dbPut = (record) => dbRun("readwrite", (store) => store.put(record));
  const dbDelete = (id) => dbRun("readwrite", (store) => store.delete(id));

  async function sign(data) {
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, state.device.keyPair.privateKey, data);
    return b64url(signature); // raw r||s; the server accepts it
  }

  async function ensureDevice() {
    show("step-device", true);
    $("device-status").textContent = "Preparing this device…";
    const records = (await dbAll()).filter((r) => r.buyer_id === state.buyerId);
    for (const record of records) {
      try {
        await api("GET", `/v1/buyer-devices/${encodeURIComponent(record.device_id)}`);
        state.device = record;
        show("step-device", false);
        return;
      } catch (error) {
        if (!(error instanceof APIError) || error.status === 401) throw error;
        await dbDelete(record.device_id);
      }
    }
    $("device-status").textContent = "Registering this device with OrderSeal…";
    const keyPair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const spki = b64(await crypto.subtle.exportKey("spki", keyPair.publicKey));
    // The proof signs a single-use nonce from the service, so it cannot be replayed.
    const { nonce } = await api("POST", "/v1/buyer-devices/challenge");
    const message = new TextEncoder().encode(`ORDERSEAL-BUYER-DEVICE-V2\n${state.buyerId}\n${nonce}\n${spki}`);
    const proof = b64url(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keyPair.privateKey, message));
    const enrolled = await api("POST", "/v1/buyer-devices", { public_key_spki: spki, proof, nonce });
    state.device = { device_id: enrolled.device_id, buyer_id: state.buyerId, keyPair };
    await dbPut(state.device);
    show("step-device", false);
  }

  // ---- sign in -------------------------------------------------------------------------
  async function signIn(token) {
    setError("");
    state.token = token.trim();
    state.buyerId = buyerOf(state.token);
    if (!state.buyerId) { setError("That does not look like a sign-in token. Copy it again from the shop's app."); return; }
    show("step-signin", false);
    try {
      await ensureDevice();
    } catch (error) {
      show("step-device", false);
      show("step-signin", true);
      sessionStorage.removeItem(TOKEN_KEY);
      setError(error.status === 401 ? "The sign-in token was not accepted or has expired. Get a fresh one from the shop's app." : `Could not prepare this device: ${error.message}`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $("who").textContent = `Signed in as ${state.buyerId}`;
    show("who", true);
    show("signout", true);
    await startCamera();
  }

  // ---- camera and QR scanning -----------------------------------------------------------
  async function startCamera() {
    show("step-camera", true);
    if (!state.stream) {
      try {
        state.stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
          audio: false,
        });
      } catch (error) {
        $("camera-status").textContent = "The camera is not available. Allow camera access for this page, or paste the label's code.";
        show("step-scan", true);
        $("typed").open = true;
        return;
      }
      $("preview").srcObject = state.stream;
      await $("preview").play().catch(() => undefined);
    }
    beginScan();
  }

  function beginScan() {
    state.session = null;
    state.captures = [];
    $("captures").replaceChildren();
    ["step-warning", "step-order", "step-result"].forEach((id) => show(id, false));
    show("step-scan", true);
    show("target", true);
    $("camera-status").textContent = "Looking for the QR code…";
    state.scanning = true;
    requestAnimationFrame(scanFrame);
  }

  let lastScan = 0;
  function scanFrame(time) {
    if (!state.scanning) return;
    const video = $("preview");
    if (time - lastScan > 150 && video.readyState >= 2 && video.videoWidth > 0) {
      lastScan = time;
      const scale = Math.min(1, 960 / video.videoWidth);
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      const canvas = $("frame");
      canvas.width = width;
      canvas.height = height;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      const found = window.jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: "attemptBoth" });
      if (found && found.data) {
        state.scanning = false;
        onScanned(found.data);
        return;
      }
    }
    requestAnimationFrame(scanFrame);
  }

  async function onScanned(payload) {
    $("camera-status").textContent = "Checking the code…";
    try {
      // A label's QR is our capture URL with the token in its fragment (older labels: the
      // bare OS1. token). The server decides whether the URL is ours; the page only unwraps.
      const check = await api("POST", "/v1/qr/check", { payload });
      if (!check.official) { showWarning(); return; }
      const hash = payload.indexOf("#t=");
      const token = hash >= 0 ? payload.slice(hash + 3) : payload;
      await openSession(() => api("POST", "/v1/receipt-sessions", { token }));
    } catch (error) {
      handleError(error);
    }
  }

  function showWarning(text) {
    show("step-scan", false);
    show("target", false);
    $("warning-text").textContent = text || "This QR code is not an official OrderSeal label for one of your orders.";
    show("step-warning", true);
    $("camera-status").textContent = "Scanning stopped.";
  }

  async function onTyped() {
    const code = $("typed-code").value.trim();
    if (!code) return;
    state.scanning = false;
    try {
      if (!code.startsWith("OS1.")) {
        // Only the signed label proves the parcel is in hand (issue 14.18): no order numbers.
        showWarning("Paste the code from the parcel's QR label (it starts with OS1.); the order number alone cannot open a capture.");
        return;
      }
      await openSession(() => api("POST", "/v1/receipt-sessions", { token: code }));
    } catch (error) {
      const code = error.code || "";
      if (code === "not_your_order" || code === "invalid_request" || code.startsWith("token_")) {
        showWarning("That code is not one of your orders with an OrderSeal label.");
      } else {
        handleError(error);
      }
    }
  }

  async function openSession(open) {
    state.session = await open();
    show("step-scan", false);
    show("target", false);
    $("order-id").textContent = state.session.order_id;
    $("session-until").textContent = `You can capture until ${new Date(state.session.expires_at).toLocaleTimeString()}.`;
    $("camera-status").textContent = "Camera ready: take photos and a short video of the parcel as you open it.";
    show("step-order", true);
    updateFinish();
  }

  // ---- capture -------------------------------------------------------------------------
  function takePhoto() {
    const video = $("preview");
    const canvas = $("frame");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      state.counter.photo += 1;
      addCapture(blob, `unboxing-photo-${state.counter.photo}.jpg`, "photo");
    }, "image/jpeg", 0.92);
  }

  function toggleRecording() {
    if (state.recorder) { state.recorder.stop(); return; }
    const mimeType = VIDEO_TYPES.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
    if (!mimeType) { setError("This browser cannot record video here; photos still work."); return; }
    const chunks = [];
    const recorder = new MediaRecorder(state.stream, { mimeType });
    const started = Date.now();
    const tick = setInterval(() => {
      const seconds = Math.floor((Date.now() - started) / 1000);
      $("rec-time").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
      if (Date.now() - started > MAX_VIDEO_MS && recorder.state === "recording") recorder.stop();
    }, 250);
    recorder.ondataavailable = (event) => { if (event.data && event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      clearInterval(tick);
      state.recorder = null;
      show("rec", false);
      $("record").textContent = "Record video";
      $("record").classList.remove("recording");
      $("take-photo").disabled = false;
      const type = mimeType.split(";")[0];
      state.counter.video += 1;
      const extension = type === "video/webm" ? "webm" : "mp4";
      addCapture(new Blob(chunks, { type }), `unboxing-video-${state.counter.video}.${extension}`, "video");
    };
    state.recorder = recorder;
    recorder.start(1000);
    $("rec-time").textContent = "0:00";
    show("rec", true);
    $("record").textContent = "Stop recording";
    $("record").classList.add("recording");
    $("take-photo").disabled = true;
  }

  function addCapture(blob, title, kind) {
    const capture = {
      blob, title, kind,
      key: crypto.randomUUID(), // the same Idempotency-Key for every retry of this capture
      capturedAt: new Date().toISOString(),
      status: "queued",
      result: null,
    };
    const preview = kind === "photo"
      ? el("img", { src: URL.createObjectURL(blob), alt: title })
      : el("video", { src: URL.createObjectURL(blob), muted: "", playsinline: "" });
    const bar = el("progress", { max: "100", value: "0" });
    const status = el("span", { class: "small" }, "Waiting…");
    const item = el("li", { class: "capture", "data-title": title }, preview, el("div", { class: "meta" }, el("strong", {}, title), bar, status));
    capture.ui = { item, bar, status };
    $("captures").append(item);
    state.captures.push(capture);
    updateFinish();
    upload(capture).catch((error) => fail(capture, error)).finally(updateFinish);
  }

  function fail(capture, error) {
    capture.status = "failed";
    capture.ui.item.classList.add("failed");
    capture.ui.status.textContent = `Not sealed: ${error.message}`;
    if (error.status === 401) setError("Your sign-in has expired. Sign in again and re-take this capture.");
  }

  function updateFinish() {
    const busy = state.captures.some((c) => c.status === "queued" || c.status === "uploading");
    const sealed = state.captures.some((c) => c.status === "sealed");
    $("finish").disabled = busy || !sealed;
  }

  // ---- upload with progress and retries --------------------------------------------------
  async function upload(capture) {
    const bytes = await capture.blob.arrayBuffer();
    const sha256 = hex(await crypto.subtle.digest("SHA-256", bytes));
    // Keys in sorted order, compact: the same bytes the server's canonical() produces.
    const statement = JSON.stringify({
      captured_at: capture.capturedAt,
      content_sha256: sha256,
      device_id: state.device.device_id,
      order_id: state.session.order_id,
      session_id: state.session.session_id,
      stage: "receipt",
    });
    const encoded = new TextEncoder().encode(statement);
    const headers = {
      Authorization: `Bearer ${state.token}`,
      "Content-Type": "application/octet-stream",
      "X-OrderSeal-Device": state.device.device_id,
      "X-OrderSeal-Statement": b64url(encoded),
      "X-OrderSeal-Statement-Signature": await sign(encoded),
      "X-OrderSeal-Content-SHA256": sha256,
      "X-OrderSeal-Title": capture.title,
      "Idempotency-Key": capture.key,
    };
    const url = `/v1/receipt-sessions/${encodeURIComponent(state.session.session_id)}/evidence`;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      capture.status = "uploading";
      capture.ui.status.textContent = attempt === 1 ? "Uploading…" : `Connection lost — retrying (attempt ${attempt})…`;
      const outcome = await send(url, headers, capture.blob, capture.ui.bar);
      if (outcome.ok) {
        capture.status = "sealed";
        capture.result = outcome.data;
        capture.ui.bar.value = 100;
        capture.ui.item.classList.add("sealed");
        capture.ui.status.textContent = `Sealed ${new Date(outcome.data.sealed_at).toLocaleTimeString()}`;
        return;
      }
      if (!outcome.retry) throw new APIError(outcome.status, outcome.code, outcome.message);
      await sleep(Math.min(8000, 500 * 2 ** (attempt - 1)));
    }
    throw new APIError(0, "network_error", "the connection kept dropping; try again when you are online");
  }

  function send(url, headers, blob, bar) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      Object.entries(headers).forEach(([k, v]) => xhr.setRequestHeader(k, v));
      xhr.timeout = 120000;
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 99);
      };
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
        if (xhr.status === 201 || xhr.status === 200) { resolve({ ok: true, data }); return; }
        const error = (data && data.error) || { code: "http_error", message: `HTTP ${xhr.status}` };
        // Server-side trouble may pass; a refused capture will not.
        resolve({ ok: false, retry: xhr.status >= 500 || xhr.status === 408 || xhr.status === 429, status: xhr.status, code: error.code, message: error.message });
      };
      const dropped = () => resolve({ ok: false, retry: true, status: 0, code: "network_error", message: "connection lost" });
      xhr.onerror = dropped;
      xhr.ontimeout = dropped;
      xhr.onabort = dropped;
      xhr.send(blob);
    });
  }

  // ---- finish and result ----------------------------------------------------------------
  async function finish() {
    $("finish").disabled = true;
    try {
      await api("POST", `/v1/receipt-sessions/${encodeURIComponent(state.session.session_id)}/finish`);
      const receipt = await api("GET", `/v1/receipt-sessions/${encodeURIComponent(state.session.session_id)}/receipt`);
      renderResult(receipt);
    } catch (error) {
      handleError(error);
      updateFinish();
    }
  }

  function renderResult(receipt) {
    show("step-order", false);
    $("result-order").textContent = receipt.order_id;
    $("result-sealed").replaceChildren(...receipt.sealed.map((item) => el("li", {},
      el("strong", {}, item.title), " ",
      el("span", { class: "badge" }, item.media_type), el("br"),
      el("span", { class: "small" }, `Captured ${when(item.captured_at)} · sealed ${when(item.sealed_at)}`), el("br"),
      el("code", { class: "small", title: item.sealed_sha256 }, `SHA-256 ${item.sealed_sha256.slice(0, 16)}…`))));
    const shipment = receipt.shipment.map((item) => el("li", {},
      el("span", { class: "small" }, `${item.media_type} sealed at packing ${when(item.sealed_at)}`)));
    $("result-chain").replaceChildren(
      el("li", {}, el("strong", {}, "Packed and sealed"), ` — ${receipt.shipment.length} capture(s) at the packing station, label printed ${when(receipt.shipped_at)}`, el("ul", {}, ...shipment)),
      el("li", {}, el("strong", {}, "Label scanned"), ` — receipt session opened ${when(receipt.opened_at)}`),
      el("li", {}, el("strong", {}, "Unboxing sealed"), ` — ${receipt.sealed.length} capture(s), chained to the shipment evidence, session closed ${when(receipt.closed_at)}`));
    show("step-result", true);
    $("camera-status").textContent = "Done.";
  }

  function handleError(error) {
    if (error.status === 401) {
      setError("Your sign-in has expired. Sign in again.");
      signOut(false);
      return;
    }
    setError(error.message || "Something went wrong.");
  }

  function signOut(clearError = true) {
    state.scanning = false;
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    ["step-camera", "step-scan", "step-warning", "step-order", "step-result", "who", "signout"].forEach((id) => show(id, false));
    show("step-signin", true);
    if (clearError) setError("");
  }

  // ---- wiring ----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("signin").addEventListener("click", () => signIn($("token").value));
    $("signout").addEventListener("click", () => signOut());
    $("scan-again").addEventListener("click", beginScan);
    $("another").addEventListener("click", beginScan);
    $("typed-go").addEventListener("click", onTyped);
    $("take-photo").addEventListener("click", takePhoto);
    $("record").addEventListener("click", toggleRecording);
    $("finish").addEventListener("click", finish);
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const fromLink = fragment.get("token");
    if (fromLink) history.replaceState(null, "", window.location.pathname);
    const token = fromLink || sessionStorage.getItem(TOKEN_KEY);
    if (token) signIn(token);
  });
})();

// OrderSeal buyer capture page: sign in, enrol this browser's key, scan the parcel QR,
// capture live photos and video, upload with progress and retries, show the sealed result.
// The device key is a non-extractable WebCrypto P-256 key kept in IndexedDB.
"use strict";

(() => {
  const TOKEN_KEY = "orderseal.buyerToken";
  const DB_NAME = "orderseal";
  const SESSION_KEY = "orderseal.receiptSession";
  const DB_STORE = "devices";
  // Captures wait here until the server has sealed them (issue 18.3): a dropped connection,
  // a reload or a closed tab never loses the unboxing. Receipts: this browser's sealed list.
  const CAPTURE_STORE = "captures";
  const RECEIPT_STORE = "receipts";
  const DEFAULT_VIDEO_SECONDS = 180;
  const MAX_BACKOFF_MS = 30000;
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
    check: null, // the QR check answer of the label that opened the session
    labelLink: null, // the label token the page was opened with (#t=), until it is checked
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
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "class") node.className = v; else node.setAttribute(k, v); });
    children.forEach((c) => node.append(c));
    return node;
  }

  // ---- languages: strings live in i18n/<lang>.json, never in code -------------------------
  const LANGUAGES = ["en", "zh-CN", "zh-TW"];
  const LANGUAGE_KEY = "orderseal.language";
  let strings = {};
  function pickLanguage() {
    const saved = localStorage.getItem(LANGUAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
    for (const wanted of navigator.languages || [navigator.language || "en"]) {
      const tag = String(wanted).toLowerCase();
      if (tag === "zh-tw" || tag === "zh-hk" || tag === "zh-mo" || tag.startsWith("zh-hant")) return "zh-TW";
      if (tag.startsWith("zh")) return "zh-CN";
      if (tag.startsWith("en")) return "en";
    }
    return "en";
  }
  async function loadLanguage(lang) {
    try {
      const response = await fetch(`/capture/static/i18n/${lang}.json`);
      strings = await response.json();
    } catch (_) {
      strings = {};
    }
    document.documentElement.lang = lang;
    $("language").value = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
    document.title = t("page.title");
  }
  async function setLanguage(lang) {
    if (!LANGUAGES.includes(lang)) return;
    localStorage.setItem(LANGUAGE_KEY, lang);
    await loadLanguage(lang);
    // Texts the page set itself follow on the next change; the fixed ones switch now.
    if (state.session && !$("step-order").hidden) showSession(state.session);
    if (state.check && !$("step-warning").hidden) showWarning(state.check);
  }
  // Values are inserted as text: an order item name or a QR payload is never markup.
  function t(key, values) {
    const text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    return String(text).replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
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
      const request = indexedDB.open(DB_NAME, 2);
      request.onupgradeneeded = () => {
        const db = request.result;
        const names = Array.from(db.objectStoreNames);
        if (!names.includes(DB_STORE)) db.createObjectStore(DB_STORE, { keyPath: "device_id" });
        if (!names.includes(CAPTURE_STORE)) db.createObjectStore(CAPTURE_STORE, { keyPath: "key" });
        if (!names.includes(RECEIPT_STORE)) db.createObjectStore(RECEIPT_STORE, { keyPath: "session_id" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  async function dbRun(mode, work, storeName = DB_STORE) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const result = work(tx.objectStore(storeName));
      tx.oncomplete = () => { db.close(); resolve(result.result); };
      tx.onerror = () => { db.close(); reject(tx.error); };
    });
  }
  const dbAll = (storeName = DB_STORE) => dbRun("readonly", (store) => store.getAll(), storeName);
  const dbPut = (record, storeName = DB_STORE) => dbRun("readwrite", (store) => store.put(record), storeName);
  const dbDelete = (id, storeName = DB_STORE) => dbRun("readwrite", (store) => store.delete(id), storeName);
  // A stored capture keeps what a retry needs: the bytes, the signed statement and its key.
  // A tampered entry only fails: the server checks the signature, the hash and the session.
  function storedCapture(capture) {
    return {
      key: capture.key, buyer_id: capture.buyerId, session_id: capture.sessionId,
      order_id: capture.orderId, title: capture.title, kind: capture.kind, blob: capture.blob,
      captured_at: capture.capturedAt, headers: capture.headers, status: capture.status,
      result: capture.result, refusal: capture.refusal || null,
    };
  }
  const saveCapture = (capture) => dbPut(storedCapture(capture), CAPTURE_STORE);

  async function sign(data) {
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, state.device.keyPair.privateKey, data);
    return b64url(signature); // raw r||s; the server accepts it
  }
  // The review stage (review.js) signs with this page's device key and uses its helpers.
  window.OrderSealPage = { state, api, t, sign, el, b64url, hex };

  async function ensureDevice() {
    show("step-device", true);
    $("device-status").textContent = t("device.preparing");
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
    $("device-status").textContent = t("device.registering");
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
    if (!state.buyerId) { setError(t("signin.malformed")); return; }
    show("step-signin", false);
    try {
      await ensureDevice();
    } catch (error) {
      show("step-device", false);
      show("step-signin", true);
      sessionStorage.removeItem(TOKEN_KEY);
      setError(error.status === 401 ? t("signin.refused") : t("signin.deviceFailed", { reason: error.message }));
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $("who").textContent = t("signin.as", { buyer: state.buyerId });
    show("who", true);
    show("signout", true);
    await startCamera();
    const restored = await restore();
    // Opened from a label's QR by the phone's camera: check that label, after sign-in.
    const label = state.labelLink;
    state.labelLink = null;
    if (label) onScanned(label, "link");
    else if (!restored) beginScan();
  }

  // ---- camera and QR scanning -----------------------------------------------------------
  function cameraStatus(text) {
    $("camera-status").textContent = text;
    $("camera-live").textContent = text; // announced once, politely
  }
  function announce(text) { if (text) $("upload-live").textContent = text; }

  // The camera or a clear dead end: denied or missing, the page says how to allow it and
  // never claims "Camera ready" over a black viewfinder; photo and video stay disabled.
  async function startCamera() {
    show("step-camera", true);
    if (!state.stream) {
      try {
        state.stream = await navigator.mediaDevices.getUserMedia({
          video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
          audio: false,
        });
      } catch (error) {
        const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
        $("camera-denied-text").textContent = t(denied ? "camera.deniedHelp" : "camera.missingHelp");
        show("camera-denied", true);
        show("target", false);
        cameraStatus(t(denied ? "camera.denied" : "camera.missing"));
        cameraControls();
        $("typed").open = true;
        return false;
      }
      show("camera-denied", false);
      $("preview").srcObject = state.stream;
      await $("preview").play().catch(() => undefined);
    }
    cameraControls();
    return true;
  }

  function cameraControls() {
    const live = Boolean(state.stream);
    $("take-photo").disabled = !live || Boolean(state.recorder);
    $("record").disabled = !live;
  }

  async function retryCamera() {
    if (!(await startCamera())) return;
    if (state.session) cameraStatus(t("camera.ready"));
    else if (!$("step-scan").hidden) beginScan();
  }

  function beginScan() {
    state.session = null;
    state.check = null;
    // Captures of earlier parcels still sending stay listed; sealed ones are done.
    state.captures.filter((c) => c.status === "sealed" || c.status === "refused").forEach((c) => c.ui.item.remove());
    state.captures = state.captures.filter((c) => c.status !== "sealed" && c.status !== "refused");
    sessionStorage.removeItem(SESSION_KEY);
    ["step-warning", "step-order", "step-result"].forEach((id) => show(id, false));
    show("step-scan", true);
    if (!state.stream) { cameraStatus(t("camera.denied")); return; }
    show("target", true);
    cameraStatus(t("camera.looking"));
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

  // entry: how the token reached the page (issue 18 §4), sent when the session opens. The
  // server seals it; "typed" sends the claim to a person, so the page never hides it.
  async function onScanned(payload, entry = "scanned") {
    state.scanning = false;
    cameraStatus(t("camera.checking"));
    try {
      // A label's QR is our capture URL with the token in its fragment (older labels: the
      // bare OS1. token). The server decides whether the URL is ours; the page only unwraps.
      const check = await api("POST", "/v1/qr/check", { payload });
      state.check = check;
      if (!check.official) { showWarning(check); return; }
      const hash = payload.indexOf("#t=");
      const token = hash >= 0 ? payload.slice(hash + 3) : payload;
      await openSession(() => api("POST", "/v1/receipt-sessions", { token, entry }), token);
    } catch (error) {
      handleError(error);
    }
  }

  // The QR check's state picks the card: only a scam card (not ours at all) gets the
  // "do not contact anyone" warning; our own labels that cannot open a capture say why.
  function showWarning(check) {
    const kind = (check && check.state) || "not_official";
    // A label link may arrive over a restored session: the warning replaces it on screen.
    ["step-scan", "step-order", "step-result"].forEach((id) => show(id, false));
    show("target", false);
    // A revoked key could have printed it: warn as for a scam card.
    const scam = kind === "not_official" || kind === "revoked";
    $("step-warning").classList.toggle("scam", scam);
    $("warning-title").textContent = t(`qr.${kind}.title`);
    $("warning-text").textContent = t(`qr.${kind}.text`);
    show("warning-scam", scam);
    const help = check && check.help_url;
    if (scam && help && /^https:\/\//.test(help)) {
      $("warning-help").href = help;
      show("warning-help", true);
    } else {
      show("warning-help", false);
    }
    show("step-warning", true);
    cameraStatus(t("camera.stopped"));
  }

  async function onTyped() {
    const code = $("typed-code").value.trim();
    if (!code) return;
    state.scanning = false;
    try {
      // Only the signed label proves the parcel is in hand (issue 14.18): no order numbers.
      const check = await api("POST", "/v1/qr/check", { payload: code });
      state.check = check;
      if (!check.official) { showWarning(check); return; }
      const hash = code.indexOf("#t=");
      const token = hash >= 0 ? code.slice(hash + 3) : code;
      await openSession(() => api("POST", "/v1/receipt-sessions", { token, entry: "typed" }), token);
    } catch (error) {
      handleError(error);
    }
  }

  async function openSession(open, labelToken) {
    state.session = await open();
    // label_cue.js looks for this label in the live camera while a video records.
    if (window.OrderSealLabelCue) await window.OrderSealLabelCue.opened(state.session.session_id, labelToken);
    sessionStorage.setItem(SESSION_KEY, state.session.session_id);
    await rememberSession(false);
    showSession(state.session);
  }

  function showSession(session) {
    state.session = session;
    state.scanning = false;
    ["step-scan", "step-warning", "step-result"].forEach((id) => show(id, false));
    show("target", false);
    $("order-id").textContent = session.order_id;
    // A typed code is said to be typed: never "official label" over it.
    const typed = entryOf(session) === "typed";
    $("order-badge").textContent = t(typed ? "order.typed" : "order.official");
    $("order-badge").className = `badge ${typed ? "warn" : "ok"}`;
    $("session-until").textContent = t("order.until", { time: new Date(session.expires_at).toLocaleTimeString() });
    const items = (state.check && state.check.items) || [];
    $("order-items").replaceChildren(...items.map((item) => el("li", {}, t("order.item", { quantity: item.quantity, name: item.name || item.sku }))));
    show("order-items-box", items.length > 0);
    $("video-limit").textContent = t("video.limit", { limit: clock(videoLimit().seconds) });
    cameraControls();
    cameraStatus(state.stream ? t("camera.ready") : t("camera.denied"));
    show("step-order", true);
    updateFinish();
  }

  // Sessions opened before the server said label_entry: its id prefix records it.
  function entryOf(session) {
    if (session && session.label_entry) return session.label_entry;
    return session && String(session.session_id).startsWith("rt_") ? "typed" : "scanned";
  }

  // ---- capture -------------------------------------------------------------------------
  function takePhoto() {
    const video = $("preview");
    if (!state.stream || !video.videoWidth) { setError(t("camera.notReady")); return; }
    const canvas = $("frame");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      state.counter.photo += 1;
      addCapture(blob, `unboxing-photo-${state.counter.photo}.jpg`, "photo");
    }, "image/jpeg", 0.92);
  }

  function clock(seconds) { return `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`; }
  // The server's limits, told by the QR check (defaults before it answers).
  function videoLimit() {
    const check = state.check || {};
    return {
      seconds: check.max_video_seconds || DEFAULT_VIDEO_SECONDS,
      bytes: check.max_video_bytes || 8 * 1024 * 1024,
    };
  }

  function toggleRecording() {
    if (state.recorder) { state.recorder.stop(); return; }
    if (!state.stream) { setError(t("camera.notReady")); return; }
    const mimeType = VIDEO_TYPES.find((type) => window.MediaRecorder && MediaRecorder.isTypeSupported(type));
    if (!mimeType) { setError(t("video.unsupported")); return; }
    const limit = videoLimit();
    // A bit rate that keeps the longest allowed video inside the size limit, with headroom.
    const videoBitsPerSecond = Math.min(2500000, Math.max(150000, Math.floor((limit.bytes * 8 * 0.85) / limit.seconds)));
    const chunks = [];
    let size = 0;
    const recorder = new MediaRecorder(state.stream, { mimeType, videoBitsPerSecond });
    const started = Date.now();
    const stopForLimit = () => {
      if (recorder.state !== "recording") return;
      $("rec-note").textContent = t("video.limitReached", { limit: clock(limit.seconds) });
      recorder.stop();
    };
    const tick = setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      $("rec-time").textContent = `${clock(seconds)} / ${clock(limit.seconds)}`;
      if (seconds >= limit.seconds) stopForLimit();
      else if (limit.seconds - seconds <= 10) $("rec-note").textContent = t("video.endingSoon", { left: Math.ceil(limit.seconds - seconds) });
    }, 250);
    recorder.ondataavailable = (event) => {
      if (!event.data || !event.data.size) return;
      chunks.push(event.data);
      size += event.data.size;
      if (size >= limit.bytes * 0.95) stopForLimit();
    };
    recorder.onstop = () => {
      clearInterval(tick);
      if (window.OrderSealLabelCue) window.OrderSealLabelCue.stop();
      state.recorder = null;
      show("rec", false);
      $("record").textContent = t("capture.record");
      $("record").classList.remove("recording");
      $("take-photo").disabled = false;
      const type = mimeType.split(";")[0];
      state.counter.video += 1;
      const extension = type === "video/webm" ? "webm" : "mp4";
      addCapture(new Blob(chunks, { type }), `unboxing-video-${state.counter.video}.${extension}`, "video");
    };
    state.recorder = recorder;
    recorder.start(1000);
    if (window.OrderSealLabelCue) window.OrderSealLabelCue.start(state.session.session_id);
    $("rec-time").textContent = `0:00 / ${clock(limit.seconds)}`;
    $("rec-note").textContent = "";
    show("rec", true);
    $("record").textContent = t("capture.stop");
    $("record").classList.add("recording");
    $("take-photo").disabled = true;
  }

  async function addCapture(blob, title, kind) {
    const capture = {
      blob, title, kind,
      key: crypto.randomUUID(), // the same Idempotency-Key for every retry of this capture
      capturedAt: new Date().toISOString(),
      buyerId: state.buyerId,
      sessionId: state.session.session_id,
      orderId: state.session.order_id,
      headers: null,
      status: "pending",
      result: null,
    };
    showCapture(capture);
    try {
      capture.headers = await signedHeaders(capture);
      await saveCapture(capture); // kept before the first byte is sent
    } catch (error) {
      capture.ui.status.textContent = t("upload.notSaved");
    }
    deliver(capture);
  }

  // Sign the capture statement once, at capture time: retries resend the same statement.
  async function signedHeaders(capture) {
    const bytes = await capture.blob.arrayBuffer();
    const sha256 = hex(await crypto.subtle.digest("SHA-256", bytes));
    // Keys in sorted order, compact: the same bytes the server's canonical() produces.
    const statement = JSON.stringify({
      captured_at: capture.capturedAt,
      content_sha256: sha256,
      device_id: state.device.device_id,
      order_id: capture.orderId,
      session_id: capture.sessionId,
      stage: "receipt",
    });
    const encoded = new TextEncoder().encode(statement);
    return {
      "Content-Type": "application/octet-stream",
      "X-OrderSeal-Device": state.device.device_id,
      "X-OrderSeal-Statement": b64url(encoded),
      "X-OrderSeal-Statement-Signature": await sign(encoded),
      "X-OrderSeal-Content-SHA256": sha256,
      "X-OrderSeal-Title": capture.title,
      "Idempotency-Key": capture.key,
    };
  }

  function showCapture(capture) {
    const preview = capture.kind === "photo"
      ? el("img", { src: URL.createObjectURL(capture.blob), alt: capture.title })
      : el("video", { src: URL.createObjectURL(capture.blob), muted: "", playsinline: "" });
    const bar = el("progress", { max: "100", value: "0" });
    const status = el("span", { class: "small" }, t("upload.waiting"));
    const retry = el("button", { type: "button", class: "retry" }, t("upload.retryNow"));
    const remove = el("button", { type: "button", class: "link remove" }, t("upload.remove"));
    retry.hidden = true;
    remove.hidden = true;
    retry.addEventListener("click", () => { deliver(capture); wake(); });
    remove.addEventListener("click", () => forget(capture));
    const meta = el("div", { class: "meta" }, el("strong", {}, capture.title), bar, status, el("div", { class: "row" }, retry, remove));
    if (capture.orderId !== (state.session && state.session.order_id)) meta.prepend(el("span", { class: "small" }, t("upload.otherOrder", { order: capture.orderId })));
    const item = el("li", { class: "capture", "data-title": capture.title, "data-key": capture.key }, preview, meta);
    capture.ui = { item, bar, status, retry, remove };
    $("captures").append(item);
    state.captures.push(capture);
    updateFinish();
  }

  function setCapture(capture, status, text) {
    capture.status = status;
    const { item, status: line, retry, remove, bar } = capture.ui;
    item.classList.toggle("sealed", status === "sealed");
    item.classList.toggle("failed", status === "waiting" || status === "refused");
    item.dataset.status = status;
    line.textContent = text;
    retry.hidden = status !== "waiting";
    remove.hidden = status !== "refused";
    if (status === "sealed") bar.value = 100;
    announce(text === t("upload.uploading") ? "" : `${capture.title}: ${text}`);
    updateFinish();
  }

  async function forget(capture) {
    await dbDelete(capture.key, CAPTURE_STORE).catch(() => undefined);
    capture.ui.item.remove();
    state.captures = state.captures.filter((c) => c !== capture);
    updateFinish();
  }

  // Wake every capture waiting out its backoff: the buyer pressed retry, or we are online.
  const wakers = new Set();
  function wake() { wakers.forEach((resolve) => resolve()); wakers.clear(); }
  function backoff(ms) {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); wakers.delete(done); resolve(); };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });
  }

  // Send until sealed or refused; backs off up to 30 s between tries and never gives up
  // while the page is open (the capture stays in IndexedDB if the page closes).
  async function deliver(capture) {
    if (capture.running || !capture.headers || capture.status === "sealed") return;
    capture.running = true;
    try {
      for (let attempt = 1; state.token; attempt += 1) {
        setCapture(capture, "uploading", attempt === 1 ? t("upload.uploading") : t("upload.retrying", { n: attempt }));
        const outcome = await send(capture);
        if (outcome.ok) {
          capture.result = outcome.data;
          setCapture(capture, "sealed", t("upload.sealed", { time: new Date(outcome.data.sealed_at).toLocaleTimeString() }));
          await saveCapture(capture).catch(() => undefined);
          return;
        }
        // A 401 is either our sign-in (expired: keep the capture for the next one) or the
        // capture's own proof (bytes not matching the signed hash): ask which.
        if (outcome.status === 401 && !(await signedInStill())) {
          setCapture(capture, "waiting", t("upload.signInAgain"));
          handleError(new APIError(401, outcome.code, outcome.message));
          return;
        }
        if (!outcome.retry) {
          capture.refusal = { code: outcome.code, message: outcome.message };
          setCapture(capture, "refused", t("upload.refused", { reason: refusalText(outcome.code, outcome.message) }));
          await saveCapture(capture).catch(() => undefined);
          return;
        }
        const wait = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempt - 1, 10));
        setCapture(capture, "waiting", t("upload.offline", { seconds: Math.round(wait / 1000) }));
        await backoff(wait);
      }
    } finally {
      capture.running = false;
      updateFinish();
    }
  }

  async function signedInStill() {
    try {
      await api("GET", `/v1/buyer-devices/${encodeURIComponent(state.device.device_id)}`);
      return true;
    } catch (error) {
      return !(error instanceof APIError && error.status === 401);
    }
  }

  function refusalText(code, message) {
    const known = `refusal.${code}`;
    return t(known) !== known ? t(known) : (message || code);
  }

  function send(capture) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", `/v1/receipt-sessions/${encodeURIComponent(capture.sessionId)}/evidence`);
      xhr.setRequestHeader("Authorization", `Bearer ${state.token}`);
      Object.entries(capture.headers).forEach(([k, v]) => xhr.setRequestHeader(k, v));
      xhr.timeout = 120000;
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) capture.ui.bar.value = Math.round((event.loaded / event.total) * 99);
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
      xhr.send(capture.blob);
    });
  }

  function sessionCaptures() {
    return state.captures.filter((c) => state.session && c.sessionId === state.session.session_id);
  }

  // Finish only when every capture of this session is sealed or refused, and say which not.
  function updateFinish() {
    const mine = sessionCaptures();
    const unsealed = mine.filter((c) => c.status !== "sealed" && c.status !== "refused");
    const refused = mine.filter((c) => c.status === "refused");
    const sealed = mine.some((c) => c.status === "sealed");
    $("finish").disabled = unsealed.length > 0 || !sealed;
    const notes = [];
    if (unsealed.length) notes.push(t("finish.waiting", { titles: unsealed.map((c) => c.title).join(", ") }));
    if (refused.length) notes.push(t("finish.refused", { titles: refused.map((c) => c.title).join(", ") }));
    $("finish-note").textContent = notes.join(" ");
    show("finish-note", notes.length > 0);
    show("retry-all", mine.some((c) => c.status === "waiting"));
  }

  // ---- sessions kept across reloads -------------------------------------------------------
  async function rememberSession(finished, receipt) {
    const record = {
      session_id: state.session.session_id, buyer_id: state.buyerId,
      order_id: state.session.order_id, expires_at: state.session.expires_at,
      label_entry: entryOf(state.session),
      opened_at: new Date().toISOString(), check: state.check, finished, receipt: receipt || null,
    };
    const known = (await dbAll(RECEIPT_STORE).catch(() => [])).find((r) => r.session_id === record.session_id);
    if (known) record.opened_at = known.opened_at;
    await dbPut(record, RECEIPT_STORE).catch(() => undefined);
  }

  // Bring back what this browser holds for the buyer: captures not sealed yet (whatever their
  // session) and the last unfinished session. True when a session was restored.
  async function restore() {
    const stored = (await dbAll(CAPTURE_STORE).catch(() => [])).filter((r) => r.buyer_id === state.buyerId);
    const receipts = (await dbAll(RECEIPT_STORE).catch(() => [])).filter((r) => r.buyer_id === state.buyerId);
    renderReceipts(receipts);
    const open = receipts.filter((r) => !r.finished && (new Date(r.expires_at) > new Date() || stored.some((c) => c.session_id === r.session_id)))
      .sort((a, b) => (a.opened_at < b.opened_at ? 1 : -1))[0];
    if (open) {
      state.check = open.check;
      showSession({ session_id: open.session_id, order_id: open.order_id, expires_at: open.expires_at, label_entry: open.label_entry });
    }
    const known = new Set(state.captures.map((c) => c.key));
    stored.filter((r) => !known.has(r.key)).sort((a, b) => (a.captured_at < b.captured_at ? -1 : 1)).forEach((r) => {
      if (r.status === "sealed" && !(open && r.session_id === open.session_id)) return;
      const capture = {
        blob: r.blob, title: r.title, kind: r.kind, key: r.key, capturedAt: r.captured_at,
        buyerId: r.buyer_id, sessionId: r.session_id, orderId: r.order_id, headers: r.headers,
        status: r.status, result: r.result, refusal: r.refusal,
      };
      showCapture(capture);
      const n = Number((/-(\d+)\./.exec(r.title) || [])[1] || 0);
      state.counter[r.kind] = Math.max(state.counter[r.kind] || 0, n);
      if (r.status === "sealed") setCapture(capture, "sealed", t("upload.sealed", { time: new Date(r.result.sealed_at).toLocaleTimeString() }));
      else if (r.status === "refused") setCapture(capture, "refused", t("upload.refused", { reason: refusalText(r.refusal && r.refusal.code, r.refusal && r.refusal.message) }));
      else deliver(capture);
    });
    return Boolean(open);
  }

  // ---- finish and result ----------------------------------------------------------------
  async function finish() {
    $("finish").disabled = true;
    try {
      const sessionId = state.session.session_id;
      await api("POST", `/v1/receipt-sessions/${encodeURIComponent(sessionId)}/finish`);
      const receipt = await api("GET", `/v1/receipt-sessions/${encodeURIComponent(sessionId)}/receipt`);
      await rememberSession(true, receipt);
      // Sealed on the server and listed in the receipt: the local copies may go.
      await Promise.all(sessionCaptures().map((c) => dbDelete(c.key, CAPTURE_STORE).catch(() => undefined)));
      renderResult(receipt);
    } catch (error) {
      handleError(error);
      updateFinish();
    }
  }

  function renderResult(receipt) {
    state.scanning = false;
    ["step-scan", "step-warning", "step-order"].forEach((id) => show(id, false));
    show("target", false);
    $("result-order").textContent = receipt.order_id;
    $("result-sealed").replaceChildren(...receipt.sealed.map((item) => sealedItem(receipt, item)));
    const shipment = receipt.shipment.map((item) => el("li", {},
      el("span", { class: "small" }, t(item.media_type.startsWith("video/") ? "result.packVideo" : "result.packPhoto", { time: when(item.sealed_at) }))));
    $("result-chain").replaceChildren(
      el("li", {}, el("strong", {}, t("result.packed")), " — ", t("result.packedDetail", { n: receipt.shipment.length, time: when(receipt.shipped_at) }), el("ul", {}, ...shipment)),
      el("li", {}, el("strong", {}, t(entryOf(receipt) === "typed" ? "result.typed" : "result.scanned")), " — ", t("result.scannedDetail", { time: when(receipt.opened_at) })),
      el("li", {}, el("strong", {}, t("result.unboxed")), " — ", t("result.unboxedDetail", { n: receipt.sealed.length, time: when(receipt.closed_at) })));
    show("step-result", true);
    cameraStatus(t("camera.done"));
  }

  // One sealed file: its thumbnail from the sealed copy on the server, download and share.
  function sealedItem(receipt, item) {
    const video = item.media_type.startsWith("video/");
    const thumb = el("div", { class: "thumb" });
    const save = el("a", { class: "button", download: item.title, hidden: "" }, t("result.download"));
    const share = el("button", { type: "button", hidden: "" }, t("result.share"));
    const tech = el("details", { class: "tech" }, el("summary", {}, t("result.details")),
      el("p", { class: "small" }, t("result.fileType", { type: item.media_type })),
      el("p", { class: "small" }, el("code", {}, `SHA-256 ${item.sealed_sha256}`)),
      el("p", { class: "small" }, el("code", {}, item.manifest_id)));
    const node = el("li", { "data-evidence": item.evidence_id }, thumb,
      el("div", { class: "meta" }, el("strong", {}, t(video ? "result.video" : "result.photo")), " ", el("span", { class: "small" }, item.title),
        el("span", { class: "small" }, t("result.when", { captured: when(item.captured_at), sealed: when(item.sealed_at) })),
        el("div", { class: "row" }, save, share), tech));
    const url = `/v1/receipt-sessions/${encodeURIComponent(receipt.session_id)}/evidence/${encodeURIComponent(item.evidence_id)}/file`;
    fetch(url, { headers: { Authorization: `Bearer ${state.token}` } })
      .then((response) => (response.ok ? response.blob() : Promise.reject(new Error(String(response.status)))))
      .then((blob) => {
        const href = URL.createObjectURL(blob);
        thumb.replaceChildren(video ? el("video", { src: href, muted: "", playsinline: "", controls: "" }) : el("img", { src: href, alt: item.title }));
        save.href = href;
        save.hidden = false;
        const file = new File([blob], item.title, { type: item.media_type });
        if (navigator.canShare && navigator.canShare({ files: [file] })) {
          share.hidden = false;
          share.addEventListener("click", () => navigator.share({ files: [file], title: t("result.shareTitle", { order: receipt.order_id }) }).catch(() => undefined));
        }
      })
      .catch(() => thumb.replaceChildren(el("span", { class: "small" }, t("result.noPreview"))));
    return node;
  }

  // "My sealed receipts": what this browser finished (the server keeps the sealed files).
  function renderReceipts(receipts) {
    const done = receipts.filter((r) => r.finished && r.receipt).sort((a, b) => (a.opened_at < b.opened_at ? 1 : -1));
    $("receipts-list").replaceChildren(...done.map((r) => {
      const open = el("button", { type: "button", class: "link" }, t("receipts.open"));
      open.addEventListener("click", () => showReceipt(r));
      return el("li", { "data-session": r.session_id }, el("strong", {}, t("receipts.order", { order: r.order_id })), " ",
        el("span", { class: "small" }, t("receipts.summary", { n: r.receipt.sealed.length, time: when(r.receipt.closed_at) })), " ", open);
    }));
    show("step-receipts", done.length > 0);
  }

  async function showReceipt(record) {
    setError("");
    try {
      renderResult(await api("GET", `/v1/receipt-sessions/${encodeURIComponent(record.session_id)}/receipt`));
    } catch (error) {
      if (error instanceof APIError && error.status === 401) { handleError(error); return; }
      renderResult(record.receipt); // offline: what the server answered when it was sealed
    }
  }

  function handleError(error) {
    if (error.status === 401) {
      setError(t("signin.expired"));
      signOut(false);
      return;
    }
    setError(error.message || t("error.generic"));
  }

  function signOut(clearError = true) {
    state.scanning = false;
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    ["step-camera", "step-scan", "step-warning", "step-order", "step-result", "step-receipts", "camera-denied", "who", "signout"].forEach((id) => show(id, false));
    // Captures still sending stop with the token; they wait in IndexedDB for the next sign-in.
    state.captures.forEach((c) => c.ui.item.remove());
    state.captures = [];
    state.session = null;
    wake();
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
    $("retry-all").addEventListener("click", () => { state.captures.forEach(deliver); wake(); });
    $("camera-retry").addEventListener("click", retryCamera);
    $("language").addEventListener("change", (event) => setLanguage(event.target.value));
    // Back online: every waiting capture tries at once instead of sitting out its backoff.
    window.addEventListener("online", () => { state.captures.forEach(deliver); wake(); });
    // The shop's app links with #token=<sign-in>; a label's QR opens #t=<label token> (issue
    // 18 §7). Both leave the address bar at once, so neither is kept in history or shared.
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const fromLink = fragment.get("token");
    state.labelLink = fragment.get("t");
    if (fromLink || state.labelLink) history.replaceState(null, "", window.location.pathname + window.location.search);
    const token = fromLink || sessionStorage.getItem(TOKEN_KEY);
    loadLanguage(pickLanguage()).then(() => { if (token) signIn(token); });
    // A scanner app may reuse an open tab: a new label link then only changes the fragment.
    window.addEventListener("hashchange", () => {
      const label = new URLSearchParams(window.location.hash.slice(1)).get("t");
      if (!label) return;
      history.replaceState(null, "", window.location.pathname + window.location.search);
      if (state.device && state.token) onScanned(label, "link");
      else state.labelLink = label;
    });
  });
})();

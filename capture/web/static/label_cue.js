// OrderSeal buyer page, the label cue (issue 19 §2): while a receipt video records, look for
// THIS session's own label in the live camera and say whether it has been seen.
//
// Advice on the page only. The seal's own sighting (capture/label_sighting.py, sampled from
// the uploaded video on the server, code label_not_in_capture) is what the verifier counts;
// a page edited to say "seen" changes nothing there.
//
// Same decoder as the page's label scan (vendor/jsQR.js). CPU is bounded: frames are scaled
// to at most MAX_WIDTH_PX wide, at most one decode every DECODE_INTERVAL_MS (4 per second),
// and nothing runs outside a recording.
//
// Adversary: another QR in view (a second parcel's genuine label, a scam card) does not count:
// only the exact label token this session was opened with does. The page keeps its SHA-256
// (in memory and in this tab's sessionStorage, so a reload keeps the cue), not the token.
"use strict";

(() => {
  const DECODE_INTERVAL_MS = 250;
  const MAX_WIDTH_PX = 640;
  const STORE_KEY = "orderseal.labelCue";

  const $ = (id) => document.getElementById(id);
  const page = () => window.OrderSealPage;
  let known = null; // { session_id, sha256 } of the label that opened the live session
  let run = null; // the running cue: { sessionId, sha256, seen, timer, canvas, decoded }
  let decodes = 0; // frames decoded since the page loaded (the tests read the bound)

  async function sha256(text) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The token inside a label QR: our capture URL carries it after "#t=", older labels are the
  // bare token (the same unwrapping capture.js does before it opens the session).
  function tokenOf(payload) {
    const at = payload.indexOf("#t=");
    return at >= 0 ? payload.slice(at + 3) : payload;
  }

  function knownFor(sessionId) {
    if (known && known.session_id === sessionId) return known.sha256;
    try {
      const stored = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      return stored && stored.session_id === sessionId ? stored.sha256 : null;
    } catch (_) {
      return null;
    }
  }

  // The status keeps its key in data-i18n, so a language switch re-translates it.
  function say(key, cueState) {
    const node = $("label-cue-status");
    if (node.dataset.state === cueState) return; // announce changes only, not every frame
    node.dataset.state = cueState;
    node.dataset.i18n = key;
    node.textContent = page().t(key);
    node.hidden = false;
  }
  function sayState(cueState) {
    if (cueState === "seen") say("labelCue.seen", cueState);
    else if (cueState === "missed") say("labelCue.missed", cueState);
    else say("labelCue.notYet", cueState);
  }

  async function look(current) {
    if (run !== current) return;
    const video = $("preview");
    if (video.readyState >= 2 && video.videoWidth > 0) {
      const scale = Math.min(1, MAX_WIDTH_PX / video.videoWidth);
      const width = Math.round(video.videoWidth * scale);
      const height = Math.round(video.videoHeight * scale);
      current.canvas.width = width;
      current.canvas.height = height;
      const context = current.canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      // A printed label is dark on light: no inverted pass, half the work per frame.
      const found = window.jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: "dontInvert" });
      decodes += 1;
      if (found && found.data && found.data !== current.decoded) {
        current.decoded = found.data; // the same QR held still is hashed once
        if ((await sha256(tokenOf(found.data))) === current.sha256 && run === current) {
          current.seen = true;
          sayState("seen");
        }
      }
    }
    if (run === current) current.timer = setTimeout(() => look(current), DECODE_INTERVAL_MS);
  }

  window.OrderSealLabelCue = {
    // A receipt session was opened with this label token (capture.js openSession).
    async opened(sessionId, token) {
      known = null;
      if (!token) return;
      // Never in the way of the session: without a digest the cue only stays silent.
      try {
        known = { session_id: sessionId, sha256: await sha256(tokenOf(token)) };
        sessionStorage.setItem(STORE_KEY, JSON.stringify(known));
      } catch (_) { /* no WebCrypto or no storage: memory only, or no cue */ }
    },
    // Recording started (capture.js toggleRecording).
    start(sessionId) {
      this.stop();
      const digest = knownFor(sessionId);
      const node = $("label-cue-status");
      delete node.dataset.state;
      // A session restored from another tab: we do not know its label, so we claim nothing.
      if (!digest || !window.jsQR) { node.hidden = true; return; }
      run = { sessionId, sha256: digest, seen: false, timer: null, canvas: document.createElement("canvas"), decoded: null };
      sayState("not-seen");
      look(run);
    },
    // Recording stopped: decoding stops; an unseen label says to record again.
    stop() {
      if (!run) return;
      clearTimeout(run.timer);
      const ended = run;
      run = null;
      sayState(ended.seen ? "seen" : "missed");
    },
    stats() { return { decodes, running: Boolean(run) }; },
  };
})();

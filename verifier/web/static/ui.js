// OrderSeal page helpers shared by /agent and /seller: DOM building (never innerHTML: buyer
// filenames and merchant statements are adversary text), the authenticated API call, times in
// the reader's zone with UTC on hover, and media fetched with the key into blob: URLs.
"use strict";

window.OrderSealUI = (() => {
  const $ = (id) => document.getElementById(id);

  // Text children are appended as text nodes, so markup in server data stays inert.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
    children.flat().forEach((c) => { if (c !== null && c !== undefined && c !== false) node.append(c); });
    return node;
  }

  class APIError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  function client(storageKey) {
    const key = () => sessionStorage.getItem(storageKey);
    async function call(path, { method = "GET", body } = {}) {
      const headers = { Authorization: `Bearer ${key()}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      let data = null;
      try { data = await response.json(); } catch (_) { data = null; }
      if (!response.ok) {
        const error = (data && data.error) || { code: "http_error", message: `HTTP ${response.status}` };
        throw new APIError(response.status, error.code, error.message);
      }
      return data;
    }
    // A media file or thumbnail: the routes need the Authorization header, so the page
    // fetches the bytes and shows them from a blob: URL (allowed by the page's CSP).
    const blobs = [];
    async function blobURL(path) {
      const response = await fetch(path, { headers: { Authorization: `Bearer ${key()}` } });
      if (!response.ok) throw new APIError(response.status, "media_unavailable", `HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      blobs.push(url);
      return url;
    }
    function releaseMedia() { blobs.splice(0).forEach((url) => URL.revokeObjectURL(url)); }
    return { key, call, blobURL, releaseMedia };
  }

  // ---- times -----------------------------------------------------------------------------
  const local = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  const pad = (n) => String(n).padStart(2, "0");
  function utcText(date) {
    return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
  }
  // A <time> in the reader's zone; hovering shows the UTC value.
  function time(iso) {
    if (!iso) return el("span", { class: "small" }, "—");
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return el("span", {}, String(iso));
    return el("time", { datetime: date.toISOString(), title: utcText(date) }, local.format(date));
  }

  // ---- media -----------------------------------------------------------------------------
  // One figure for a file: a video plays, an image shows; the bytes come through ``api``.
  function media(api, { url, thumbnailUrl, mediaType, caption, alt }) {
    const figure = el("figure", { class: "media-item" });
    const isVideo = (mediaType || "").startsWith("video/");
    const holder = el("div", { class: "media-frame" }, el("span", { class: "small" }, "loading…"));
    figure.append(holder, el("figcaption", {}, ...(Array.isArray(caption) ? caption : [caption])));
    const source = isVideo ? url : url || thumbnailUrl;
    if (!source) { holder.replaceChildren(el("span", { class: "small" }, "no preview")); return figure; }
    (async () => {
      try {
        if (isVideo) {
          const video = el("video", { controls: true, preload: "metadata", playsinline: true, "aria-label": alt || "video" });
          if (thumbnailUrl) api.blobURL(thumbnailUrl).then((poster) => { video.poster = poster; }).catch(() => {});
          video.src = await api.blobURL(source);
          holder.replaceChildren(video);
        } else if ((mediaType || "").startsWith("image/") || thumbnailUrl) {
          const img = el("img", { alt: alt || "image" });
          img.src = await api.blobURL(source);
          holder.replaceChildren(img);
        } else {
          holder.replaceChildren(el("span", { class: "small" }, `${mediaType || "file"}: no preview`));
        }
      } catch (_) {
        holder.replaceChildren(el("span", { class: "small" }, "could not load this file"));
      }
    })();
    return figure;
  }

  // The sign-in form (#signin-form, #key) and #signout of both pages: the key lives in this
  // tab's sessionStorage only. Returns signOut(message) for the page's own use (a 401).
  function signInOut(storageKey, api, { setError, setStatus, route }) {
    function signOut(message) {
      sessionStorage.removeItem(storageKey);
      api.releaseMedia();
      setError(message || "");
      setStatus("");
      route();
    }
    $("signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(storageKey, key);
      $("key").value = "";
      setError("");
      route();
    });
    $("signout").addEventListener("click", () => signOut());
    return signOut;
  }

  return { $, el, APIError, client, time, utcText, media, signInOut };
})();

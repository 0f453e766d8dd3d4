// The public /verify page: checks one file with POST /verify and shows the answer.
"use strict";
document.getElementById("check").addEventListener("click", async () => {
  const file = document.getElementById("file").files[0];
  const out = document.getElementById("result");
  if (!file) return;
  out.hidden = false; out.className = ""; out.textContent = "Checking…";
  const response = await fetch("/verify", { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
  const data = await response.json();
  if (!response.ok) { out.className = "bad"; out.textContent = data.error ? data.error.message : "Could not check the file."; return; }
  out.className = data.carries_orderseal_chain ? "ok" : "bad";
  out.replaceChildren();
  const p = document.createElement("p"); p.textContent = data.summary; out.append(p);
  const list = document.createElement("ul");
  for (const s of data.stages) { const li = document.createElement("li"); li.textContent = `${s.label || s.stage}: captured ${s.captured_at || "?"}, sealed ${s.sealed_at || "?"}`; list.append(li); }
  for (const f of data.findings) { const li = document.createElement("li"); const c = document.createElement("code"); c.textContent = f.code; li.append(c, " — ", f.message); list.append(li); }
  out.append(list);
});

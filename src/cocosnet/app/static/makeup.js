// The Makeup tab: paint a makeup layer on a reference portrait (or load an RGBA layer), load target portraits,
// Transfer (one /api/makeup request per target), compare before / after, save. Uses app.js's helpers (api, status,
// busy, blobToBase64, b64ToBlob, showImage, readablePhoto, download); app.js routes Ctrl+Z / Ctrl+Y here while
// the tab is open (window.makeup.undo / redo).
"use strict";

(() => {
  const UNDO = 30;
  const canvas = $("mk-layer"), ctx = canvas.getContext("2d");
  const state = {reference: null, targets: [], undo: [], redo: [], stroke: null};

  const snapshot = () => ctx.getImageData(0, 0, canvas.width, canvas.height);
  function remember() {
    state.undo.push(snapshot());
    if (state.undo.length > UNDO) state.undo.shift();
    state.redo = [];
    syncButtons();
  }
  function syncButtons() {
    $("mk-undo").disabled = !state.undo.length;
    $("mk-redo").disabled = !state.redo.length;
    $("mk-transfer").disabled = !state.reference || !state.targets.length;
  }
  const api_ = {
    undo() {
      if (!state.undo.length) return;
      state.redo.push(snapshot());
      ctx.putImageData(state.undo.pop(), 0, 0);
      syncButtons();
    },
    redo() {
      if (!state.redo.length) return;
      state.undo.push(snapshot());
      ctx.putImageData(state.redo.pop(), 0, 0);
      syncButtons();
    },
    state,
  };
  window.makeup = api_;

  // A stroke is redrawn whole from its start on every move (one path, one alpha: overlaps do not darken).
  function pointAt(e) {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * canvas.width / box.width, (e.clientY - box.top) * canvas.height / box.height];
  }
  function drawStroke() {
    const s = state.stroke;
    ctx.putImageData(s.before, 0, 0);
    ctx.save();
    ctx.globalCompositeOperation = $("mk-eraser").checked ? "destination-out" : "source-over";
    ctx.globalAlpha = Number($("mk-alpha").value) / 100;
    ctx.strokeStyle = ctx.fillStyle = $("mk-colour").value;
    ctx.lineWidth = Number($("mk-brush").value);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...s.points[0]);
    if (s.points.length === 1) ctx.arc(...s.points[0], ctx.lineWidth / 2, 0, 2 * Math.PI);
    for (const p of s.points.slice(1)) ctx.lineTo(...p);
    if (s.points.length === 1) ctx.fill(); else ctx.stroke();
    ctx.restore();
  }
  canvas.addEventListener("pointerdown", (e) => {
    if (!state.reference) return;
    canvas.setPointerCapture(e.pointerId);
    remember();
    state.stroke = {before: snapshot(), points: [pointAt(e)]};
    drawStroke();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!state.stroke) return;
    state.stroke.points.push(pointAt(e));
    drawStroke();
  });
  const end = () => { state.stroke = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  for (const id of ["mk-brush", "mk-alpha"]) {
    $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value; });
  }

  $("mk-clear").addEventListener("click", () => { remember(); ctx.clearRect(0, 0, canvas.width, canvas.height); });
  $("mk-undo").addEventListener("click", () => api_.undo());
  $("mk-redo").addEventListener("click", () => api_.redo());

  $("mk-ref-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file || !(await readablePhoto(file))) return;
    const bitmap = await createImageBitmap(file);
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    bitmap.close();
    state.reference = file;
    state.undo = [];
    state.redo = [];
    showImage($("mk-ref"), URL.createObjectURL(file));
    syncButtons();
    status(`Reference ${file.name}: paint the makeup on it, or open an RGBA layer.`);
  });

  $("mk-layer-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file || !(await readablePhoto(file))) return;
    if (!state.reference) { status("Open the reference portrait first.", "error"); return; }
    const bitmap = await createImageBitmap(file, {premultiplyAlpha: "none", colorSpaceConversion: "none"});
    if (bitmap.width !== canvas.width || bitmap.height !== canvas.height) {
      status(`${file.name} is ${bitmap.width}×${bitmap.height}; the reference is ${canvas.width}×${canvas.height}.`,
        "error");
      bitmap.close();
      return;
    }
    remember();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    status(`Layer ${file.name} loaded.`);
  });

  $("mk-save-layer").addEventListener("click", () => download(canvas.toDataURL("image/png"), "makeup-layer.png"));

  $("mk-target-files").addEventListener("change", async (e) => {
    const files = [...e.target.files];
    e.target.value = "";
    const ok = [];
    for (const f of files) if (await readablePhoto(f)) ok.push(f);
    state.targets = ok;
    $("mk-results").replaceChildren(...ok.map((f, i) => resultRow(f, i)));
    syncButtons();
    if (ok.length) status(`${ok.length} target portrait${ok.length > 1 ? "s" : ""}: press Transfer.`);
  });

  function resultRow(file, i) {
    const row = document.createElement("div");
    row.className = "mk-result";
    row.dataset.index = String(i);
    const before = document.createElement("figure"), after = document.createElement("figure");
    before.innerHTML = "<img alt=\"\"><figcaption>before</figcaption>";
    after.innerHTML = "<img alt=\"\" data-after><figcaption>after</figcaption>";
    before.querySelector("figcaption").textContent = `before · ${file.name}`;
    showImage(before.querySelector("img"), URL.createObjectURL(file));
    const save = document.createElement("button");
    save.textContent = "Save";
    save.disabled = true;
    save.dataset.save = "";
    save.addEventListener("click", () => download(after.querySelector("img").src,
      file.name.replace(/\.[^.]+$/, "") + "-makeup.png"));
    row.append(before, after, save);
    return row;
  }

  $("mk-transfer").addEventListener("click", () => busy($("mk-transfer"), "Transferring the makeup…", async () => {
    const reference = await blobToBase64(state.reference);
    const layer = await blobToBase64(await new Promise((resolve) => canvas.toBlob(resolve, "image/png")));
    const rows = $("mk-results").querySelectorAll(".mk-result");
    let said = "";
    for (const [i, file] of state.targets.entries()) {
      status(`Transferring onto ${file.name} (${i + 1}/${state.targets.length})…`, "working");
      const out = await api("/api/makeup", {
        reference, layer, target: await blobToBase64(file), blend: $("mk-blend").value,
        opacity: Number($("mk-opacity").value) / 100,
      });
      showImage(rows[i].querySelector("[data-after]"), URL.createObjectURL(b64ToBlob(out.image)));
      rows[i].querySelector("[data-save]").disabled = false;
      said = `Done with ${out.correspondence}.` + (out.notes.length ? ` ${out.notes.join(" ")}` : "");
    }
    status(said, "done");
  }));
  syncButtons();
})();

// Styles: several references in the painter, each styling the classes or painted regions assigned to it
// (instance-level style control, POST /api/translate_multi; docs/multi_exemplar.md). Loaded after app.js and
// built once its page is ready; uses its helpers (api, busy, status, blobToBase64, encodeIdsPNG, decodeIdsPNG).
"use strict";

(() => {
  const COLOURS = [[230, 25, 75], [60, 180, 75], [67, 99, 216], [245, 130, 49]];  // reference k's colour
  const MAX_REFERENCES = 4, MAX_REGIONS = 8;
  const css = (c) => `rgb(${c.join(",")})`;

  function start(cocosnet) {
    const {info, painter} = cocosnet;
    const size = info.image_size, names = info.classes.map((c) => c.name);
    const palette = info.classes.map((c) => [1, 3, 5].map((i) => parseInt(c.color.slice(i, i + 2), 16)));
    // refs: {exemplar: the API's ExemplarInput, thumb: an image URL}; assign: class name -> k; regions: {mask, k}
    const styles = {refs: [], assign: {}, regions: [], auto: false, assignment: null};
    cocosnet.styles = styles;

    const panel = document.createElement("div");
    panel.className = "panel";
    panel.id = "styles";
    panel.innerHTML = `<h2>Styles</h2>
      <p class="muted hint">Several references: the first styles all that is not assigned. Select a label, then
      <b>Use for class</b> on a reference, or paint a region below and click <b>Use for region</b>.</p>
      <div class="button-grid">
        <button id="styles-add" title="the photo now in the Reference panel">Add reference</button>
        <button id="styles-auto" aria-pressed="false" title="each class from the reference whose labels hold it most">Auto</button>
        <button id="styles-clear">Clear styles</button>
        <button id="styles-region-clear">Clear region</button>
      </div>
      <div id="styles-refs" class="style-refs" aria-label="references and what they style"></div>
      <div class="styles-maps">
        <figure class="region"><canvas id="styles-region" aria-label="paint a region"></canvas><figcaption>paint a region</figcaption></figure>
        <figure><img id="styles-assignment" alt=""><figcaption>which reference styles which part</figcaption></figure>
      </div>
      <button id="styles-translate" class="primary">Translate with styles</button>`;
    document.getElementById("translate").closest(".panel").after(panel);  // under Output
    const $$ = (id) => document.getElementById(id);

    // ------------------------------------------------------------------------------------- the region brush
    const region = $$("styles-region");
    region.width = region.height = size;
    const rctx = region.getContext("2d"), rimg = rctx.createImageData(size, size);
    let mask = new Uint8Array(size * size), painting = false;
    function renderRegion() {  // the painting, the assigned regions in their reference's colour, the new one white
      const d = rimg.data, ids = painter.ids;
      const owner = new Int16Array(size * size).fill(-1);
      for (const r of styles.regions) for (let p = 0; p < owner.length; p++) if (r.mask[p]) owner[p] = r.k;
      for (let p = 0; p < ids.length; p++) {
        const base = palette[ids[p]] || [0, 0, 0];
        const over = mask[p] ? [255, 255, 255] : owner[p] >= 0 ? COLOURS[owner[p]] : null;
        for (let c = 0; c < 3; c++) d[4 * p + c] = over ? (base[c] + over[c]) >> 1 : base[c];
        d[4 * p + 3] = 255;
      }
      rctx.putImageData(rimg, 0, 0);
    }
    function paintAt(e) {
      const r = region.getBoundingClientRect();
      const x = (e.clientX - r.left) * size / r.width, y = (e.clientY - r.top) * size / r.height;
      const rad = painter.brush / 2, r2 = Math.max(rad * rad, 0.25);
      for (let py = Math.max(0, Math.floor(y - rad)); py <= Math.min(size - 1, Math.ceil(y + rad)); py++) {
        for (let px = Math.max(0, Math.floor(x - rad)); px <= Math.min(size - 1, Math.ceil(x + rad)); px++) {
          if ((px + 0.5 - x) ** 2 + (py + 0.5 - y) ** 2 <= r2) mask[py * size + px] = 1;
        }
      }
      renderRegion();
    }
    region.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      painting = true;
      region.setPointerCapture(e.pointerId);
      paintAt(e);
    });
    region.addEventListener("pointermove", (e) => { if (painting) paintAt(e); });
    for (const type of ["pointerup", "pointercancel"]) region.addEventListener(type, () => { painting = false; });
    const previous = painter.onchange;
    painter.onchange = () => { previous(); renderRegion(); };
    $$("styles-region-clear").addEventListener("click", () => { mask = new Uint8Array(size * size); renderRegion(); });

    // ------------------------------------------------------------------------------- references and thumbnails
    function renderRefs() {
      const list = $$("styles-refs");
      list.replaceChildren();
      styles.refs.forEach((ref, k) => {
        const item = document.createElement("div");
        item.className = "style-ref";
        item.dataset.index = k;
        item.style.borderColor = css(COLOURS[k]);
        const img = document.createElement("img");
        img.src = ref.thumb;
        img.alt = `reference ${k}`;
        const text = document.createElement("div");
        text.className = "styles-what";
        const classes = Object.entries(styles.assign).filter(([, j]) => j === k).map(([name]) => name);
        const nRegions = styles.regions.filter((r) => r.k === k).length;
        const parts = [...classes, ...(nRegions ? [`${nRegions} region${nRegions > 1 ? "s" : ""}`] : [])];
        text.textContent = `${k}: ${parts.join(", ") || (k === 0 ? "everything else" : "nothing yet")}`
          + (k === 0 && parts.length ? ", everything else" : "");
        const useClass = document.createElement("button");
        useClass.textContent = "Use for class";
        useClass.dataset.action = "class";
        useClass.title = "style the label selected in the palette with this reference";
        useClass.addEventListener("click", () => {
          const name = names[painter.current];
          styles.assign[name] = k;
          renderRefs();
          status(`${name} takes its style from reference ${k}.`);
        });
        const useRegion = document.createElement("button");
        useRegion.textContent = "Use for region";
        useRegion.dataset.action = "region";
        useRegion.addEventListener("click", () => {
          if (!mask.some((v) => v)) { status("Paint a region first (the small canvas under the references).", "error"); return; }
          if (styles.regions.length >= MAX_REGIONS) { status(`At most ${MAX_REGIONS} regions.`, "error"); return; }
          styles.regions.push({mask, k});
          mask = new Uint8Array(size * size);
          renderRefs();
          renderRegion();
          status(`The region takes its style from reference ${k}.`);
        });
        item.append(img, text, useClass, useRegion);
        list.appendChild(item);
      });
    }
    $$("styles-add").addEventListener("click", () => {
      const ref = cocosnet.reference();
      if (!ref) { status("Pick a reference first (Gallery, Retrieve or Open photo), then Add reference.", "error"); return; }
      if (!ref.id && !ref.label && info.needs_exemplar_label) { status("Open the photo's label map first (this model needs it).", "error"); return; }
      if (styles.refs.length >= MAX_REFERENCES) { status(`At most ${MAX_REFERENCES} references.`, "error"); return; }
      const exemplar = ref.id ? {id: ref.id} : {image: ref.image, ...(ref.label ? {label: ref.label} : {})};
      styles.refs.push({exemplar, thumb: document.getElementById("ref-image").src});
      renderRefs();
      status(`Reference ${styles.refs.length - 1} added.`);
    });
    $$("styles-auto").addEventListener("click", (e) => {
      styles.auto = !styles.auto;
      e.target.setAttribute("aria-pressed", String(styles.auto));
    });
    $$("styles-clear").addEventListener("click", () => {
      Object.assign(styles, {refs: [], assign: {}, regions: [], assignment: null});
      renderRefs();
      renderRegion();
      showImage($$("styles-assignment"), "");
    });

    // -------------------------------------------------------------------------------------------- translate
    function assignmentURL(ids) {
      const c = document.createElement("canvas");
      c.width = c.height = size;
      const ctx = c.getContext("2d"), img = ctx.createImageData(size, size);
      for (let p = 0; p < ids.length; p++) img.data.set([...(COLOURS[ids[p]] || [0, 0, 0]), 255], 4 * p);
      ctx.putImageData(img, 0, 0);
      return c.toDataURL();
    }
    $$("styles-translate").addEventListener("click", (e) => busy(e.target, "Translating with styles…", async () => {
      if (!styles.refs.length) throw new Error("Add at least one reference (Add reference).");
      const regions = await Promise.all(styles.regions.map(async (r) => (
        {mask: await blobToBase64(await encodeIdsPNG(r.mask, size, size)), exemplar: r.k})));
      const out = await api("/api/translate_multi", {
        label: await blobToBase64(await painter.png()), exemplars: styles.refs.map((r) => r.exemplar),
        assign: styles.assign, auto: styles.auto, regions, return_warped: true,
      });
      $$("output").src = `data:image/png;base64,${out.image}`;
      showImage($$("warped"), out.warped && `data:image/png;base64,${out.warped}`);
      $$("save-output").disabled = false;
      styles.assignment = await decodeIdsPNG(b64ToBlob(out.assignment), size);
      $$("styles-assignment").src = assignmentURL(styles.assignment);
      status(`Translated with ${styles.refs.length} references in ${out.seconds.toFixed(2)} s.`, "done");
    }));
    renderRefs();
    renderRegion();
  }

  if (window.cocosnet?.ready) start(window.cocosnet);
  else {
    new MutationObserver((_, observer) => {
      if (!window.cocosnet?.ready) return;
      observer.disconnect();
      start(window.cocosnet);
    }).observe(document.body, {attributes: true, attributeFilter: ["data-ready"]});
  }
})();

// CoCosNet painter and image editor. Plain JS, no dependencies, nothing loaded from outside this server.
// The label map lives in a Uint8Array of class ids (the truth); the canvas only shows it in the class colours,
// so strokes are rasterised here without antialiasing and ids never have to be read back from pixels.
"use strict";

const $ = (id) => document.getElementById(id);
const HISTORY = 50;

// ------------------------------------------------------------------------------------------- server calls
async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    let detail = data.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
    const message = detail || response.statusText, retry = response.headers.get("Retry-After");
    // the server's busy message already says when to retry; add it only where it does not
    throw new Error(message + (retry && !/retry in/i.test(message) ? ` (retry in ${retry} s)` : ""));
  }
  return data;
}

function status(text, kind = "") {
  const el = $("status");
  el.textContent = text;
  el.className = kind;
}

async function busy(button, text, fn) {
  button.disabled = true;
  status(text, "working");
  try {
    return await fn();
  } catch (err) {
    status(err.message, "error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------------- PNG helpers
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function zlib(raw) {
  if (typeof CompressionStream !== "undefined") {
    const stream = new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  // stored (uncompressed) deflate blocks, for browsers without CompressionStream
  const blocks = Math.ceil(raw.length / 65535) || 1;
  const out = new Uint8Array(2 + raw.length + blocks * 5 + 4);
  out.set([0x78, 0x01]);
  let o = 2;
  for (let i = 0; i < blocks; i++) {
    const chunk = raw.subarray(i * 65535, (i + 1) * 65535);
    out[o++] = i === blocks - 1 ? 1 : 0;
    out[o++] = chunk.length & 0xff; out[o++] = chunk.length >> 8;
    out[o++] = ~chunk.length & 0xff; out[o++] = (~chunk.length >> 8) & 0xff;
    out.set(chunk, o); o += chunk.length;
  }
  let a = 1, b = 0;
  for (let i = 0; i < raw.length; i++) { a = (a + raw[i]) % 65521; b = (b + a) % 65521; }
  new DataView(out.buffer).setUint32(o, ((b << 16) | a) >>> 0);
  return out;
}

// A single-channel 8-bit PNG of class ids: the label format of the API and of Save painting.
async function encodeIdsPNG(ids, width, height) {
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(ids.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const chunk = (type, data) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8);  // 8 bits, greyscale, deflate, no filter, no interlace
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header),
    chunk("IDAT", await zlib(raw)), chunk("IEND", new Uint8Array())];
  return new Blob(parts, {type: "image/png"});
}

function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// Class ids from a single-channel PNG (the server's label format): draw it without colour management.
// At width x height (height defaults to width); with no width, at the PNG's own size (see decodeIdsPNGSized).
async function decodeIdsPNG(blob, width, height = width) {
  return (await decodeIdsPNGSized(blob, width, height)).ids;
}

async function decodeIdsPNGSized(blob, width, height) {
  const bitmap = await createImageBitmap(blob, {colorSpaceConversion: "none", premultiplyAlpha: "none"});
  const w = width || bitmap.width, h = height || bitmap.height;
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(bitmap, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const ids = new Uint8Array(w * h);
  for (let i = 0; i < ids.length; i++) ids[i] = rgba[4 * i];
  return {ids, width: w, height: h};
}

// Nearest resize of a class-id map (a pixel takes the id under its centre), for a change of canvas size.
function resizeIds(ids, w0, h0, w1, h1) {
  const out = new Uint8Array(w1 * h1);
  for (let y = 0; y < h1; y++) {
    const sy = Math.min(h0 - 1, Math.floor((y + 0.5) * h0 / h1));
    for (let x = 0; x < w1; x++) out[y * w1 + x] = ids[sy * w0 + Math.min(w0 - 1, Math.floor((x + 0.5) * w0 / w1))];
  }
  return out;
}

function b64ToBlob(b64) {  // (fetching a data: URL would need connect-src data: in the page's CSP)
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], {type: "image/png"});
}

// An <img> shows a picture or nothing: an empty src would load the page itself and draw a broken-image icon.
function showImage(img, src) {
  if (src) img.src = src;
  else img.removeAttribute("src");
}

// A chosen file that the browser cannot decode as a picture (a text file, say) is refused at once, not at Translate.
async function readablePhoto(file) {
  try {
    (await createImageBitmap(file)).close();
    return true;
  } catch {
    status(`${file.name} is not an image this browser can read (PNG, JPEG, WebP, ...).`, "error");
    return false;
  }
}

function download(href, name) {
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// ----------------------------------------------------------------------------------------- label canvas
class LabelCanvas {
  constructor(canvas, size, palette) {
    this.canvas = canvas;
    this.palette = palette;  // [[r,g,b], ...]
    this.ctx = canvas.getContext("2d");
    this.shape(size, size, new Uint8Array(size * size));
    this.undoStack = [];
    this.redoStack = [];
    this.current = 1;
    this.tool = "draw";
    this.brush = 12;
    this.onchange = () => {};
    this.last = null;
    this.preview = document.createElement("div");  // the brush's footprint under the cursor
    this.preview.className = "brush-preview";
    this.preview.hidden = true;
    canvas.after(this.preview);
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => { this.showPreview(e); this.move(e); });
    canvas.addEventListener("pointerleave", () => { this.preview.hidden = true; });
    for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, () => this.up());
    this.render();
  }

  // width x height of the map (any aspect ratio); the canvas' frame takes its aspect ratio.
  shape(width, height, ids) {
    this.width = this.canvas.width = width;
    this.height = this.canvas.height = height;
    this.size = Math.min(width, height);  // the short side: the brush's scale
    this.image = this.ctx.createImageData(width, height);
    this.ids = ids;
    const frame = this.canvas.parentElement.style;  // a portrait map is narrower, not taller than the page
    frame.aspectRatio = `${width} / ${height}`;
    frame.maxWidth = `${Math.round(512 * Math.min(1, width / height))}px`;
  }

  // A circle of the brush's diameter in screen pixels, centred on the pointer (none for the fill tool).
  showPreview(e) {
    const r = this.canvas.getBoundingClientRect(), wrap = this.canvas.parentElement.getBoundingClientRect();
    const diameter = this.brush * r.width / this.width;
    Object.assign(this.preview.style, {
      width: `${diameter}px`, height: `${diameter}px`,
      left: `${e.clientX - wrap.left - this.canvas.parentElement.clientLeft}px`,
      top: `${e.clientY - wrap.top - this.canvas.parentElement.clientTop}px`,
    });
    this.preview.hidden = this.tool !== "draw";
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [Math.floor((e.clientX - r.left) * this.width / r.width),
      Math.floor((e.clientY - r.top) * this.height / r.height)];
  }

  down(e) {
    if (e.button !== 0) return;
    e.preventDefault();  // no text selection; it also keeps the focus off the canvas, on a slider used before:
    document.activeElement?.blur?.();  // drop it, so Ctrl+Z / Ctrl+Y go to the canvas, the last thing touched
    const [x, y] = this.point(e);
    if (this.tool === "fill") {
      if (this.ids[y * this.width + x] !== this.current) { this.snapshot(); this.fill(x, y, this.current); this.changed(); }
      return;
    }
    this.canvas.setPointerCapture(e.pointerId);
    this.snapshot();
    this.last = [x, y];
    this.stroke(x, y, x, y);
  }

  move(e) {
    if (!this.last) return;
    const [x, y] = this.point(e);
    this.stroke(this.last[0], this.last[1], x, y);
    this.last = [x, y];
  }

  up() {
    if (!this.last) return;
    this.last = null;
    this.changed();
  }

  // A round brush along the segment: every pixel centre within brush/2 of it takes the class (no antialiasing).
  stroke(x0, y0, x1, y1) {
    const r = this.brush / 2, n = this.width, id = this.current;
    const dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    const xmin = Math.max(0, Math.floor(Math.min(x0, x1) - r)), xmax = Math.min(n - 1, Math.ceil(Math.max(x0, x1) + r));
    const ymin = Math.max(0, Math.floor(Math.min(y0, y1) - r));
    const ymax = Math.min(this.height - 1, Math.ceil(Math.max(y0, y1) + r));
    const r2 = Math.max(r * r, 0.25);
    for (let y = ymin; y <= ymax; y++) {
      for (let x = xmin; x <= xmax; x++) {
        const t = len2 ? Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / len2)) : 0;
        const ex = x - (x0 + t * dx), ey = y - (y0 + t * dy);
        if (ex * ex + ey * ey <= r2) this.ids[y * n + x] = id;
      }
    }
    this.render(xmin, ymin, xmax, ymax);
  }

  // 4-connected flood fill of the region under (x, y).
  fill(x, y, id) {
    const n = this.width, ids = this.ids, target = ids[y * n + x];
    if (target === id) return;
    const stack = [y * n + x];
    ids[y * n + x] = id;
    while (stack.length) {
      const p = stack.pop(), px = p % n;
      if (px > 0 && ids[p - 1] === target) { ids[p - 1] = id; stack.push(p - 1); }
      if (px < n - 1 && ids[p + 1] === target) { ids[p + 1] = id; stack.push(p + 1); }
      if (p >= n && ids[p - n] === target) { ids[p - n] = id; stack.push(p - n); }
      if (p < n * (this.height - 1) && ids[p + n] === target) { ids[p + n] = id; stack.push(p + n); }
    }
    this.render();
  }

  render(x0 = 0, y0 = 0, x1 = this.width - 1, y1 = this.height - 1) {
    const d = this.image.data, n = this.width;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const p = y * n + x, c = this.palette[this.ids[p]] || [0, 0, 0];
        d[4 * p] = c[0]; d[4 * p + 1] = c[1]; d[4 * p + 2] = c[2]; d[4 * p + 3] = 255;
      }
    }
    this.ctx.putImageData(this.image, 0, 0, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  }

  // A history entry: the ids with the size they were painted at (a size change is undoable too).
  snapshot() {
    this.undoStack.push(this.entry(this.ids.slice()));
    if (this.undoStack.length > HISTORY) this.undoStack.shift();
    this.redoStack = [];
  }

  changed() {
    this.onchange();
  }

  undo() { this.swap(this.undoStack, this.redoStack); }

  redo() { this.swap(this.redoStack, this.undoStack); }

  entry(ids) {
    ids.width = this.width;
    ids.height = this.height;
    return ids;
  }

  swap(from, to) {
    if (!from.length) return;
    to.push(this.entry(this.ids));
    const ids = from.pop();
    if (ids.width === this.width && ids.height === this.height) this.ids = ids;
    else this.shape(ids.width, ids.height, ids);
    this.render();
    this.changed();
  }

  // Replace the whole map (Clean, Load), at width x height when given (a loaded map's own size); undoable.
  set(ids, width = this.width, height = this.height) {
    this.snapshot();
    if (width === this.width && height === this.height) this.ids = ids.slice();
    else this.shape(width, height, ids.slice());
    this.render();
    this.changed();
  }

  // The painting stretched to a new size (nearest, so the ids stay ids); undoable.
  resize(width, height) {
    if (width !== this.width || height !== this.height) {
      this.set(resizeIds(this.ids, this.width, this.height, width, height), width, height);
    }
  }

  png() {
    return encodeIdsPNG(this.ids, this.width, this.height);
  }
}

// Palette, Draw / Fill, brush size, Undo / Redo / Clean, Load / Save, built from the template for one canvas.
function buildTools(container, painter, classes, {cleanLabel, onClean, saveName}) {
  container.appendChild($("tools-template").content.cloneNode(true));
  const palette = container.querySelector("[data-palette]");
  for (const c of classes) {
    const b = document.createElement("button");
    b.className = "swatch";
    b.dataset.classId = c.id;
    b.title = `${c.name} (id ${c.id})`;
    b.setAttribute("aria-pressed", String(c.id === painter.current));
    b.innerHTML = '<span class="chip"></span><span class="name"></span>';
    b.querySelector(".chip").style.background = c.color;
    b.querySelector(".name").textContent = c.name;
    b.addEventListener("click", () => {
      painter.current = c.id;
      for (const other of palette.children) other.setAttribute("aria-pressed", String(other === b));
    });
    palette.appendChild(b);
  }
  const toolButtons = container.querySelectorAll("[data-tool]");
  for (const b of toolButtons) {
    b.addEventListener("click", () => {
      painter.tool = b.dataset.tool;
      painter.canvas.dataset.tool = painter.tool;
      for (const other of toolButtons) other.setAttribute("aria-pressed", String(other === b));
    });
  }
  const brush = container.querySelector("[data-brush]");
  const brushValue = container.querySelector("[data-brush-value]");
  brush.max = Math.max(8, Math.round(painter.size / 4));
  brush.value = painter.brush = Math.max(2, Math.round(painter.size / 20));
  brushValue.textContent = brush.value;
  brush.addEventListener("input", () => { painter.brush = +brush.value; brushValue.textContent = brush.value; });
  const action = (name) => container.querySelector(`[data-action="${name}"]`);
  action("undo").addEventListener("click", () => painter.undo());
  action("redo").addEventListener("click", () => painter.redo());
  action("clean").textContent = cleanLabel;
  action("clean").addEventListener("click", onClean);
  action("save").addEventListener("click", async () => download(URL.createObjectURL(await painter.png()), saveName));
  container.querySelector("[data-load]").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    status(`Loading ${file.name}…`, "working");
    try {
      const loaded = await loadLabelFile(file);
      painter.set(loaded.ids, loaded.width, loaded.height);
      status(`Loaded ${file.name}.`);
    } catch (err) {
      status(err.message, "error");
    }
  });
  const refresh = () => {
    action("undo").disabled = !painter.undoStack.length;
    action("redo").disabled = !painter.redoStack.length;
  };
  const previous = painter.onchange;
  painter.onchange = () => { previous(); refresh(); };
  refresh();
  return refresh;
}

// A user's label PNG, checked by the server (class range, size) and returned as ids at the model's resolution,
// its aspect ratio kept: {ids, width, height, b64}.
async function loadLabelFile(file) {
  const label = await blobToBase64(file);
  const answer = await api("/api/label", {label});
  return {...await decodeIdsPNGSized(b64ToBlob(answer.label)), b64: answer.label};
}

// The painter's canvas size: a few aspect ratios at the model's short side (what /api/translate gives back), and
// a loaded label map's own size. Changing it stretches the painting (undoable).
const ASPECTS = [[1, 1, "square"], [3, 2, "landscape"], [2, 3, "portrait"], [2, 1, "wide"], [1, 2, "tall"]];

function canvasSizes(select, painter, short) {
  const key = (w, h) => `${w}x${h}`;
  const add = (w, h, name) => {
    const o = new Option(`${w}×${h} (${name})`, key(w, h));
    select.add(o);
    return o;
  };
  for (const [a, b, name] of ASPECTS) add(Math.round(short * Math.max(1, a / b)), Math.round(short * Math.max(1, b / a)), name);
  select.value = key(painter.width, painter.height);
  select.addEventListener("change", () => {
    const [w, h] = select.value.split("x").map(Number);
    painter.resize(w, h);
  });
  const previous = painter.onchange;
  painter.onchange = () => {  // a Load or an undo may bring another size
    previous();
    const k = key(painter.width, painter.height);
    if (![...select.options].some((o) => o.value === k)) add(painter.width, painter.height, "loaded");
    select.value = k;
  };
}

// ----------------------------------------------------------------------------------------------- the app
async function main() {
  const info = await api("/api/classes");
  const size = info.image_size;
  const palette = info.classes.map((c) => [1, 3, 5].map((i) => parseInt(c.color.slice(i, i + 2), 16)));
  $("model-info").textContent = `${info.preset} · ${size}×${size} · ${info.label_nc} classes`;
  const cocosnet = {info};
  window.cocosnet = cocosnet;  // for tests and the console

  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      for (const t of document.querySelectorAll("[data-tab]")) t.setAttribute("aria-selected", String(t === tab));
      for (const w of document.querySelectorAll("[data-workspace]")) w.hidden = w.dataset.workspace !== tab.dataset.tab;
      cocosnet.active = {painter: cocosnet.painter, editor: cocosnet.editor, makeup: window.makeup}[tab.dataset.tab];
    });
  }

  function showCandidates(container, items, onPick) {
    container.replaceChildren();
    if (!items.length) {
      container.textContent = "The gallery is empty: open a photo and its label map.";
      return;
    }
    for (const item of items) {
      const b = document.createElement("button");
      b.className = "candidate";
      b.dataset.itemId = item.id;
      b.title = item.score == null ? item.name : `${item.name} (similarity ${item.score.toFixed(2)})`;
      const img = document.createElement("img");
      img.src = item.thumbnail;
      img.alt = item.name;
      b.appendChild(img);
      if (item.score != null) {
        const s = document.createElement("span");
        s.textContent = item.score.toFixed(2);
        b.appendChild(s);
      }
      b.addEventListener("click", () => {
        for (const other of container.children) other.classList.toggle("selected", other === b);
        onPick(item);
      });
      container.appendChild(b);
    }
  }

  // ------------------------------------------------------------------------------------------- painter
  const painter = new LabelCanvas($("painter-canvas"), size, palette);
  cocosnet.painter = cocosnet.active = painter;
  // start from a horizon (sky over grass) when the classes have them; Clean gives the empty (id 0) map
  const sky = info.classes.findIndex((c) => c.name === "sky"), grass = info.classes.findIndex((c) => c.name === "grass");
  if (sky > 0 && grass > 0) {
    painter.ids.fill(sky, 0, Math.round(size * 0.6) * size);
    painter.ids.fill(grass, Math.round(size * 0.6) * size);
    painter.render();
  }
  buildTools(document.querySelector("#painter [data-tools]"), painter, info.classes, {
    cleanLabel: "Clean", saveName: "painting.png",
    onClean: () => painter.set(new Uint8Array(painter.width * painter.height)),
  });
  canvasSizes($("painter-size"), painter, size);
  let reference = null;  // {id} for a gallery item, or {image, label} base64 uploads
  cocosnet.reference = () => reference;

  function showReference(imageSrc, labelSrc) {
    showImage($("ref-image"), imageSrc);
    showImage($("ref-label"), labelSrc);
  }
  const pickReference = (item) => {
    reference = {id: item.id};
    showReference(item.image, item.label_color);
    status(`Reference: ${item.name}.`);
  };
  $("ref-photo-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file || !(await readablePhoto(file))) return;
    const image = await blobToBase64(file);
    reference = {image, label: null};
    showReference(URL.createObjectURL(file), "");
    for (const c of $("ref-candidates").children) c.classList.remove("selected");
    status(info.needs_exemplar_label ? "Now open the photo's label map (this model needs it)." : "Reference photo set.");
  });
  $("ref-label-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (!reference || reference.id) { status("Open the reference photo first.", "error"); return; }
    try {
      const {ids, width, height, b64} = await loadLabelFile(file);
      reference.label = b64;
      $("ref-label").src = colourURL(ids, width, height);
      status("Reference photo and labels set.");
    } catch (err) {
      status(err.message, "error");
    }
  });
  function colourURL(ids, width, height) {
    const c = document.createElement("canvas");
    c.width = width;
    c.height = height;
    const ctx = c.getContext("2d"), img = ctx.createImageData(width, height);
    for (let p = 0; p < ids.length; p++) img.data.set([...palette[ids[p]], 255], 4 * p);
    ctx.putImageData(img, 0, 0);
    return c.toDataURL();
  }
  $("ref-retrieve").addEventListener("click", (e) => busy(e.target, "Retrieving…", async () => {
    const label = await blobToBase64(await painter.png());
    const {items} = await api("/api/retrieve", {label, k: 6});
    showCandidates($("ref-candidates"), items, pickReference);
    if (items.length) status(`${items.length} exemplars retrieved; the best is ${items[0].name}. Click one to use it.`);
  }));
  $("ref-gallery").addEventListener("click", (e) => busy(e.target, "Loading the gallery…", async () => {
    const {items} = await api("/api/gallery");
    showCandidates($("ref-candidates"), items, pickReference);
    status(`${items.length} gallery items.`);
  }));
  $("ref-clean").addEventListener("click", () => {
    reference = null;
    showReference("", "");
    $("ref-candidates").replaceChildren();
    status("Reference cleared (Translate will use the best retrieved exemplar).");
  });
  $("translate").addEventListener("click", (e) => busy(e.target, "Translating…", async () => {
    const body = {label: await blobToBase64(await painter.png()), return_warped: true, inspect: true};
    if (reference && reference.id) body.exemplar_id = reference.id;
    else if (reference) Object.assign(body, {exemplar: reference.image, exemplar_label: reference.label || undefined});
    const out = await api("/api/translate", body);
    $("output").src = `data:image/png;base64,${out.image}`;
    showImage($("warped"), out.warped && `data:image/png;base64,${out.warped}`);
    window.cocosnetInspector?.show(out);  // inspector.js: confidence / flow overlay, missing-class warning
    $("save-output").disabled = false;
    if (out.exemplar_id && !reference) {
      const item = (await api("/api/gallery")).items.find((i) => i.id === out.exemplar_id);
      if (item) pickReference(item);
    }
    status(`Translated in ${out.seconds.toFixed(2)} s (${out.width}×${out.height}).`, "done");
  }));
  $("save-output").addEventListener("click", () => download($("output").src, "cocosnet-output.png"));

  // -------------------------------------------------------------------------------------------- editor
  const editor = new LabelCanvas($("editor-canvas"), size, palette);
  cocosnet.editor = editor;
  let original = null;  // {id} or {image, label}, plus ids: the labels as loaded
  cocosnet.original = () => original;
  buildTools(document.querySelector("#editor [data-tools]"), editor, info.classes, {
    cleanLabel: "Revert", saveName: "edited-labels.png",
    onClean: () => { if (original) editor.set(original.ids, original.width, original.height); },
  });
  const opacity = $("editor-opacity");
  const setOpacity = () => { editor.canvas.style.opacity = String(opacity.value / 100); };
  opacity.addEventListener("input", setOpacity);
  setOpacity();
  $("feather").addEventListener("input", () => { $("feather-value").textContent = $("feather").value; });

  async function openOriginal(source, photoURL, ids, width = size, height = size) {
    original = {...source, ids, width, height};
    $("editor-photo").src = photoURL;
    $("editor-original").src = photoURL;
    showImage($("editor-output"), null);
    editor.undoStack = [];
    editor.set(ids, width, height);
    editor.undoStack = [];
    editor.onchange();
  }
  const pickOriginal = async (item) => {
    const blob = await (await fetch(item.label)).blob();
    await openOriginal({id: item.id}, item.image, await decodeIdsPNG(blob, size));
    status(`Editing ${item.name}: change its labels, then Synthesis.`);
  };
  let pendingPhoto = null;
  $("editor-photo-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file || !(await readablePhoto(file))) return;
    pendingPhoto = {image: await blobToBase64(file), url: URL.createObjectURL(file)};
    $("editor-photo").src = pendingPhoto.url;
    status("Now open the photo's label map.");
  });
  $("editor-label-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (!pendingPhoto) { status("Open the photo first.", "error"); return; }
    try {
      const {ids, width, height, b64} = await loadLabelFile(file);
      await openOriginal({image: pendingPhoto.image, label: b64}, pendingPhoto.url, ids, width, height);
      status("Photo and labels loaded: edit the labels, then Synthesis.");
    } catch (err) {
      status(err.message, "error");
    }
  });
  const editorGallery = async () => {
    const {items} = await api("/api/gallery");
    showCandidates($("editor-candidates"), items, pickOriginal);
    return items;
  };
  $("editor-gallery").addEventListener("click", (e) => busy(e.target, "Loading the gallery…", async () => {
    status(`${(await editorGallery()).length} gallery items: click one to edit it.`);
  }));
  editorGallery().catch(() => {});
  $("synthesis").addEventListener("click", (e) => busy(e.target, "Synthesising…", async () => {
    if (!original) throw new Error("Open a photo with its label map (or a gallery item) first.");
    const body = {label: await blobToBase64(await editor.png()), inpaint: $("inpaint").checked,
      feather: +$("feather").value, return_warped: false};
    if (original.id) body.exemplar_id = original.id;
    else Object.assign(body, {exemplar: original.image, exemplar_label: original.label});
    const out = await api("/api/translate", body);
    $("editor-output").src = `data:image/png;base64,${out.image}`;
    $("editor-save").disabled = false;
    status(`Synthesised in ${out.seconds.toFixed(2)} s${body.inpaint ? " (inpainting the edited region)" : ""}.`, "done");
  }));
  $("editor-save").addEventListener("click", () => download($("editor-output").src, "cocosnet-edit.png"));

  // A picture that fails to load leaves an empty slot, not a broken-image icon.
  document.addEventListener("error", (e) => { if (e.target instanceof HTMLImageElement) showImage(e.target, null); },
    true);
  // Undo / redo everywhere but in a text field (sliders, checkboxes and buttons have no undo of their own).
  const editsText = (el) => el.isContentEditable || el.tagName === "TEXTAREA" || (el.tagName === "INPUT"
    && !["range", "checkbox", "radio", "button", "submit", "reset", "file", "color"].includes(el.type));
  document.addEventListener("keydown", (e) => {
    if (!(e.ctrlKey || e.metaKey) || editsText(e.target)) return;
    const key = e.key.toLowerCase();
    if (key === "z" && !e.shiftKey) { cocosnet.active.undo(); e.preventDefault(); }
    if (key === "y" || (key === "z" && e.shiftKey)) { cocosnet.active.redo(); e.preventDefault(); }
  });
  cocosnet.ready = true;
  document.body.dataset.ready = "true";
  status("Ready: paint a scene, pick or retrieve a reference, then Translate.");
}

main().catch((err) => status(`Could not start: ${err.message}`, "error"));

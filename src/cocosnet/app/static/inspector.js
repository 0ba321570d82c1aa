// The correspondence inspector over the painter's output: the match confidence (red where the match is unsure)
// or the flow (where each pixel's style came from in the reference, on the colour wheel), and a warning naming
// the painted classes the reference lacks. app.js asks for it (`inspect: true`) and hands each answer to show().
"use strict";

window.cocosnetInspector = (() => {
  let answer = null;
  const el = (id) => document.getElementById(id);

  // confidence c (grey) -> red with opacity 1 - c: sure matches stay clear, unsure ones turn red
  function paintConfidence(ctx, img) {
    ctx.drawImage(img, 0, 0, ctx.canvas.width, ctx.canvas.height);
    const pixels = ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const unsure = 255 - d[i];
      d[i] = 230; d[i + 1] = 30; d[i + 2] = 30; d[i + 3] = Math.round(unsure * 0.85);
    }
    ctx.putImageData(pixels, 0, 0);
  }

  function draw() {
    const canvas = el("inspector-overlay"), mode = el("inspector-mode").value;
    canvas.hidden = !answer || mode === "off";
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    el("inspector-legend").textContent = !answer || mode === "off" ? ""
      : mode === "confidence" ? "red: the match is spread over many reference positions (low confidence)"
        : `hue: direction (right red, down yellow-green, left cyan, up violet); white: no shift; ` +
          `full colour: ${answer.flow_scale.toFixed(0)} px`;
    if (canvas.hidden) return;
    const img = new Image();
    img.onload = () => {
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      if (mode === "confidence") paintConfidence(canvas.getContext("2d"), img);
      else canvas.getContext("2d").drawImage(img, 0, 0);
      canvas.dataset.shown = mode;
    };
    img.src = `data:image/png;base64,${mode === "confidence" ? answer.confidence : answer.flow}`;
  }

  function show(out) {
    answer = out.confidence ? out : null;
    const warning = el("missing-classes"), lacking = (answer && answer.missing_classes) || [];
    warning.hidden = !lacking.length;
    warning.textContent = lacking.length
      ? `The reference has no ${lacking.map((c) => c.name).join(", ")}: the style of ` +
        `${lacking.length > 1 ? "these regions comes" : "this region comes"} from other classes. ` +
        "Pick a reference that has them for a faithful result."
      : "";
    el("inspector-overlay").dataset.shown = "";
    draw();
  }

  function init() {
    const host = el("inspector");
    if (!host) return;
    host.innerHTML = '<label class="row">Overlay <select id="inspector-mode">' +
      '<option value="off">none</option><option value="confidence">match confidence</option>' +
      '<option value="flow">flow</option></select></label>' +
      '<div id="inspector-legend" class="muted hint"></div>' +
      '<p id="missing-classes" class="inspector-warning" role="alert" hidden></p>';
    const overlay = document.createElement("canvas");
    overlay.id = "inspector-overlay";
    overlay.className = "inspector-overlay";
    overlay.hidden = true;
    el("output").after(overlay);
    el("inspector-mode").addEventListener("change", draw);
  }

  document.addEventListener("DOMContentLoaded", init);
  return {show};
})();

"""`cocosnet serve`: the interactive painter and semantic image editor, with its JSON API (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from typing import TYPE_CHECKING

from cocosnet.commands._common import add_model_arguments, load_translator
from cocosnet.presets import LANDSCAPE_CLASSES, MAX_INPUT_PIXELS, ModelConfig

if TYPE_CHECKING:
    from cocosnet.app.gallery import Gallery


def port_number(text: str) -> int:
    """argparse type of --port: an integer 0..65535 (argparse turns the error into exit 2 with the usage)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range: a TCP port is 0..65535")
    return port


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("--gallery", metavar="DIR", help="exemplar pairs: NAME.jpg + NAME_label.png, or images/ + "
                                                    "labels/ (default: a few built-in procedural scenes)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=port_number, default=7860, help="TCP port, 0..65535 (0: any free port)")
    p.add_argument("--slots", type=int, default=1, help="translations run at once (default 1)")
    p.add_argument("--waiting", type=int, default=4, help="requests that may wait for a slot; more get 503")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a translate request may take (504 after)")
    p.add_argument("--max-upload-mb", type=float, default=10.0, help="largest image accepted, in MB")
    p.add_argument("--max-pixels", type=int, default=MAX_INPUT_PIXELS, help="largest image accepted, in pixels")
    p.add_argument("--no-warmup", action="store_true", help="skip the translation run at start-up")


def builtin_gallery(cfg: ModelConfig, n: int = 14) -> Gallery:
    """What the server offers when no --gallery is given: procedural landscapes of the validation split in every
    style family, for checkpoints with the landscape classes; an empty gallery for other class sets (the user
    uploads a reference). Built here, not in the app, so the app needs nothing of the data layer."""
    from PIL import Image

    from cocosnet.app.gallery import Gallery, GalleryItem

    if tuple(cfg.class_names[: len(LANDSCAPE_CLASSES)]) != LANDSCAPE_CLASSES:
        return Gallery([], cfg)
    from cocosnet.data.landscapes import FAMILIES, SCENE_KINDS, make_scene, scene_seeds

    items = []
    for i in range(n):
        layout_seed, style_seed = scene_seeds("val", i)
        family, kind = FAMILIES[i % len(FAMILIES)], SCENE_KINDS[i % len(SCENE_KINDS)]
        ids, photo = make_scene(layout_seed, cfg.image_size, kind, family, style_seed)
        items.append(GalleryItem(id=f"scene-{i:02d}", name=f"{kind}, {family}", image=Image.fromarray(photo),
                                 label=ids))
    return Gallery(items, cfg)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from cocosnet.app import AppSettings, create_app, load_gallery

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    translator = load_translator(args)
    cfg = translator.cfg
    gallery = load_gallery(args.gallery, cfg, max_pixels=args.max_pixels) if args.gallery else builtin_gallery(cfg)
    settings = AppSettings(max_upload_bytes=int(args.max_upload_mb * 2**20), max_pixels=args.max_pixels,
                           slots=args.slots, waiting=args.waiting, timeout=args.timeout)
    app = create_app(translator, gallery, settings)
    if not args.no_warmup and len(gallery):
        item = next(iter(gallery.items.values()))
        translator.translate(item.label, item.image, item.label)
    try:
        public = not ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        public = args.host != "localhost"
    if public:
        print(f"warning: serving on {args.host}: other machines can reach it (no authentication)", file=sys.stderr)
    print(f"cocosnet: {cfg.name} model on {translator.device}, {len(gallery)} gallery items; "
          f"open http://{args.host}:{args.port}/ (API schema at /openapi.json)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0

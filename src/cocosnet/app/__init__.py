"""The interactive painter and semantic image editor (`cocosnet serve`); needs the `app` extra (FastAPI)."""

from cocosnet.app.gallery import Gallery, GalleryItem, load_gallery
from cocosnet.app.server import AppSettings, BackgroundServer, create_app

__all__ = ["AppSettings", "BackgroundServer", "Gallery", "GalleryItem", "builtin_gallery", "create_app",
           "load_gallery"]

# names that moved out of the app, kept importable from here (loaded only when asked for)
MOVED = {"builtin_gallery": "cocosnet.commands.serve"}


def __getattr__(name: str):
    if name in MOVED:
        import importlib

        return getattr(importlib.import_module(MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

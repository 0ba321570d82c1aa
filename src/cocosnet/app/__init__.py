"""The interactive painter and semantic image editor (`cocosnet serve`); needs the `app` extra (FastAPI)."""

from cocosnet.app.gallery import Gallery, GalleryItem, builtin_gallery, load_gallery
from cocosnet.app.server import AppSettings, BackgroundServer, create_app

__all__ = ["AppSettings", "BackgroundServer", "Gallery", "GalleryItem", "builtin_gallery", "create_app",
           "load_gallery"]

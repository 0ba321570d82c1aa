"""The app's routes, one router per concern; each reads the app's `AppState` through `get_state`."""

from cocosnet.app.routes import gallery, info, multi_exemplar, pages, translate

ROUTERS = (pages.router, info.router, gallery.router, translate.router, multi_exemplar.router)

__all__ = ["ROUTERS", "gallery", "info", "multi_exemplar", "pages", "translate"]

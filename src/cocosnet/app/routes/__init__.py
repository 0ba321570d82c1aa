"""The app's routes, one router per concern; each reads the app's `AppState` through `get_state`."""

from cocosnet.app.routes import gallery, info, makeup, multi_exemplar, pages, translate

ROUTERS = (pages.router, info.router, gallery.router, translate.router, multi_exemplar.router, makeup.router)

__all__ = ["ROUTERS", "gallery", "info", "makeup", "multi_exemplar", "pages", "translate"]

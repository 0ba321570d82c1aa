"""The app's routes, one router per concern; each reads the app's `AppState` through `get_state`."""

from cocosnet.app.routes import gallery, info, makeup, pages, translate

ROUTERS = (pages.router, info.router, gallery.router, translate.router, makeup.router)

__all__ = ["ROUTERS", "gallery", "info", "makeup", "pages", "translate"]

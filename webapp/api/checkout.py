"""The hosted checkout page's routes (/i/<invoice id>); they live in webapp/checkout with its
templates and static files."""

from webapp.checkout.routes import router

__all__ = ["router"]

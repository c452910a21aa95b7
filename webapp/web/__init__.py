"""The web foundation every server-rendered portal shares (staff /staff, customer /app, merchant
/merchant): Jinja2 templates with en/sw catalogs, Babel formatting in Africa/Nairobi, signed session
cookies bound to a server-side session row, CSRF, a strict Content-Security-Policy, HTML error pages
and field-level form validation. Pages call the same services as the JSON API; no logic of their own.
"""

"""The console at /console: its routes (_endpoints.py) and its static pages (index.html,
console.css, console.js), shipped as package data of this package (docs/console.md)."""

from server.web.console._endpoints import ADMIN_GROUP, ConsoleEndpoints, is_admin

__all__ = ["ADMIN_GROUP", "ConsoleEndpoints", "is_admin"]

"""The web app (`ecocloud serve`): the shared catalog, overview charts, login and roles.

``create_app(settings)`` (``ecocloud.web.app``) builds the FastAPI application; everything it shows
comes from the serving DuckDB file (read-only, parameterised queries) and its users and sessions
from the state database (``ecocloud.web.users``). Scripts, styles and the chart library are served
by the app itself: it works with no network.
"""

"""Helpers shared by several test folders: plain functions and classes, no fixtures.

``conftest.py`` files hold the fixtures (and import from here); test modules
import these helpers from here, never from another folder's ``conftest.py``:

- ``tests.helpers.data``: a tiny market configuration for fast simulator tests.
- ``tests.helpers.db``: the start of the tournament tests' replay clock and a
  PostgreSQL schema of one's own.
- ``tests.helpers.server``: a migrated home, its tournament, a ``crowdalpha
  serve`` process on loopback and participants made straight in the database.
- ``tests.helpers.web``: the app in this process (``httpx`` over ASGI), forms
  with their anti-forgery token, and valid prediction files.
"""

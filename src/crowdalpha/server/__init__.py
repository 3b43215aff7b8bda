"""The server: what the API and the web pages share, and the application that mounts both.

``app`` builds the FastAPI application (the only module that imports ``api`` and
``web``) and ``serving`` runs it with uvicorn; ``services``, ``settings``,
``context`` (request dependencies), ``errors`` (domain errors to HTTP statuses),
``ratelimit`` and ``signing`` are what the routers of both surfaces depend on.
See docs/architecture.md.
"""

"""The operator's REST API: accounts, keys, models, wallets, the ledger audit, rounds and
the leaderboard under ``/admin``, for keys with the ``admin`` scope (OpenAPI at ``/docs``).

``routes`` parses requests and answers them, ``service`` calls the tournament's
domain and shapes its answers, ``models`` holds the request and response bodies.
"""

from crowdalpha.api.admin.routes import router

__all__ = ["router"]

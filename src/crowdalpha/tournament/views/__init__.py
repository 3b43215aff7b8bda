"""Read models: what the screens read, computed once here for every surface.

The GraphQL resolvers, the web pages, the operator's REST API and the CLI show
the same things (rounds with their counts, a model's rounds and scores, stake
history, money totals, the meta-model's contributors, percentiles, projected
payouts, historical leaderboards); each is a function here that takes a session
and returns plain dataclasses, and the surfaces only map fields. Nothing here
writes or commits.
"""

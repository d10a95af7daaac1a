"""The simulated world: engine, catalogue, users, search engine, serving, feedback log.

`sim` imports no other project package and never reads files given by a user.
"""

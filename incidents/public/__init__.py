"""The public status page: everything a reader without a login sees.

Pages, feeds, badges and the Statuspage-compatible JSON are rendered into one
snapshot by a worker after every public change (`rebuild.py` walks it), kept in Redis, in a
local file and in each web process's memory (`store`), and served from memory
(`views`, `asgi`), so that reading the status page never needs PostgreSQL or
Redis. The websocket stream (`consumer`) pushes the live part of each new
snapshot to open pages.
"""

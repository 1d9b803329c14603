"""ASGI entry point: the status snapshot first, then HTTP through Django (its WSGI
handler on a thread pool) and websockets through Channels."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core.wsgi import get_wsgi_application

from portal.wsgi_body import buffer_chunked_body

if TYPE_CHECKING:
    from a2wsgi.wsgi_typing import WSGIApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# HTTP runs Django's WSGI handler on a pool of threads: every view is synchronous,
# and Django's ASGI handler spends several milliseconds a request on thread
# hand-offs (a new executor per request) that this path does not pay.
# Keep WEB_HTTP_THREADS at or below DB_POOL_MAX_SIZE so no thread waits for a connection.
# buffer_chunked_body: WSGI has no length for a chunked body, and Django reads it as empty.
django_wsgi_app = buffer_chunked_body(get_wsgi_application())
# a2wsgi types the environ as its own TypedDict; the application takes the plain dict WSGI passes.
django_http_app = WSGIMiddleware(cast("WSGIApp", django_wsgi_app), workers=settings.WEB_HTTP_THREADS)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from incidents.public.asgi import snapshot_first  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402

application = snapshot_first(
    ProtocolTypeRouter(
        {
            "http": django_http_app,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)

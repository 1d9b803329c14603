"""The interactive API docs (Swagger UI from the drf-spectacular sidecar, no CDN).

The split view serves its start-up script as a separate request, so the page has
no inline script and keeps script-src 'self'. Swagger UI's own stylesheet rules
(a <style> block in the page, styles it inserts at run time) and its data: icons
need a looser style and image policy: on this page only.
"""

from __future__ import annotations

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularSwaggerSplitView

api_docs = csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

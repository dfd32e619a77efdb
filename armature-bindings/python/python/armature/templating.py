"""`Jinja2Templates`: HTML pages from Jinja2 templates, as FastAPI's (Starlette's)
`fastapi.templating`. Needs `jinja2` (`pip install armature[templates]`).

```python
from armature import App, Request
from armature.templating import Jinja2Templates

app = App()
templates = Jinja2Templates(directory="templates")

@app.get("/items/{item_id}")
async def item(request: Request, item_id: str):
    return templates.TemplateResponse(request, "item.html", {"id": item_id})
```

In a template, `{{ url_for('item', item_id=7) }}` is `request.url_for(...)`, and the
`request` is there as in Starlette. Autoescaping is on, so values are HTML-escaped.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from ._armature import HttpResponse
from .responses import HTMLResponse

ContextProcessor = Callable[[Any], Mapping[str, Any]]


class Jinja2Templates:
    """Templates of `directory` (or of the Jinja2 environment `env`), rendered into
    `HTMLResponse`s by `TemplateResponse`. `context_processors` add to every page's context
    (each called with the request)."""

    def __init__(
        self,
        directory: Union[str, os.PathLike[str], Sequence[Union[str, os.PathLike[str]]], None] = None,
        *,
        context_processors: Optional[Sequence[ContextProcessor]] = None,
        env: Any = None,
    ) -> None:
        try:
            import jinja2
        except ImportError:
            raise ImportError("Jinja2Templates needs jinja2: pip install jinja2 (or armature[templates])") from None
        if (directory is None) == (env is None):
            raise TypeError("Jinja2Templates: give directory=... or env=..., one of them")
        if env is None:
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(directory), autoescape=True)

        @jinja2.pass_context
        def url_for(context: Any, name: str, /, **path_params: Any) -> Any:
            request = context["request"]
            if not hasattr(request, "url_for"):
                raise TypeError("url_for in a template needs the request as `request: Request` (from armature import Request)")
            return request.url_for(name, **path_params)

        env.globals.setdefault("url_for", url_for)
        self.env = env
        self.context_processors = list(context_processors or ())

    def get_template(self, name: str) -> Any:
        return self.env.get_template(name)

    def TemplateResponse(  # noqa: N802 - Starlette's name
        self,
        request: Any,
        name: Any = None,
        context: Optional[Mapping[str, Any]] = None,
        status_code: int = 200,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
        background: Any = None,
    ) -> HttpResponse:
        """The template `name` rendered with `context` (and `request`) as an `HTMLResponse`.
        Starlette's older form, `TemplateResponse(name, {"request": request, ...})`, works
        too."""
        if isinstance(request, str):
            # TemplateResponse("page.html", {"request": request, ...})
            name, context = request, name
            request = (context or {}).get("request")
            if request is None:
                raise ValueError('TemplateResponse(name, context): the context must hold "request"')
        page = dict(context or {})
        page.setdefault("request", request)
        for processor in self.context_processors:
            page.update(processor(request))
        html = self.get_template(name).render(page)
        return HTMLResponse(html, status_code=status_code, headers=headers, media_type=media_type, background=background)

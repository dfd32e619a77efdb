"""`StaticFiles`: a directory served under a path, as Starlette's (so FastAPI's), by
tower-http's `ServeDir` in Rust: ranges, `ETag`/`Last-Modified` with conditional requests,
content types by extension, and no path outside the directory.

```python
from armature import App
from armature.staticfiles import StaticFiles

app = App()
app.mount("/static", StaticFiles(directory="static"), name="static")
# GET /static/css/site.css serves static/css/site.css
```
"""

from __future__ import annotations

import os
from typing import Optional, Union


class StaticFiles:
    """The files of `directory`, for `app.mount(path, StaticFiles(directory=...))`. With
    `html=True` a directory's `index.html` answers for it (`/static/` serves
    `static/index.html`; `/static/docs` redirects to `/static/docs/`). A file that is not
    there is a `404`, as a path no route matches, and so is a symbolic link in the directory
    that leads out of it, unless `follow_symlink=True`. A `directory` that does not exist is a
    `RuntimeError` here, unless `check_dir=False` (then a `ValueError` when the app is built,
    if it still does not)."""

    __slots__ = ("directory", "html", "follow_symlink")

    def __init__(self, *, directory: Union[str, os.PathLike[str], None] = None, packages: Optional[list] = None, html: bool = False, check_dir: bool = True, follow_symlink: bool = False) -> None:
        if packages:
            raise TypeError("StaticFiles(packages=...) is not supported: give the directory")
        if directory is None:
            raise TypeError("StaticFiles(directory=...): the directory to serve is required")
        self.directory = os.fspath(directory)
        self.html = bool(html)
        # As Starlette: a symbolic link that leads out of the directory is not followed.
        self.follow_symlink = bool(follow_symlink)
        if check_dir and not os.path.isdir(self.directory):
            raise RuntimeError(f"Directory '{self.directory}' does not exist")

    def __repr__(self) -> str:
        return f"StaticFiles(directory={self.directory!r}, html={self.html})"

"""Who a visitor is: the login name with --auth, else a random token kept in their browser.

Every history query and every run queue is keyed by `owner_key`, so no one sees another's runs.
`Visitors` is made once by ui/main.py and shared by every form of the app.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import gradio as gr

OWNER_KEY = "viewcomfy-ui-owner"
TAB_KEY = "viewcomfy-ui-tab"  # the tab's id, in the browser's sessionStorage
TAB_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# In the browser, before the page's load: this tab's id, made once and kept in sessionStorage,
# which a reload keeps and each tab has its own of (localStorage, BrowserState's, is shared).
TAB_ID_JS = f"""(_, ...rest) => {{
  let id = sessionStorage.getItem("{TAB_KEY}");
  if (!id) {{
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("{TAB_KEY}", id);
  }}
  return [id, ...rest];
}}"""


@dataclass(frozen=True)
class Identity:
    """The components that hold a visitor's token on the page.

    `owner`: the token kept in the browser (encrypted); `token`: the same, as session state the
    page's load fills (Run reads this one, so a script calling /run has nothing to pass: its
    runs belong to its session). `keeps_token`: this form's page writes them on load."""

    owner: gr.BrowserState
    token: gr.State
    keeps_token: bool


class Visitors:
    """The app's visitor identity: one token per browser, for every form.

    The first form's page makes the token's components (`identity`); a file's other forms sit
    in tabs that are not on the page until picked, where a BrowserState of their own would read
    nothing, so they read the first one's."""

    def __init__(self, secret: str) -> None:
        self.secret = secret  # encrypts the token kept in the browser
        self._first: Identity | None = None

    def identity(self) -> Identity:
        """The token's components: made (inside the calling page) the first time."""
        if self._first is not None:
            return Identity(self._first.owner, self._first.token, keeps_token=False)
        owner = gr.BrowserState(None, storage_key=OWNER_KEY, secret=self.secret)
        self._first = Identity(owner, gr.State(None), keeps_token=True)
        return self._first


def new_token() -> str:
    return secrets.token_urlsafe(24)


def tab_key(tab_id: str | None, token: str | None, request: gr.Request | None) -> str:
    """Which page a run was pressed on: the browser tab (its id, `TAB_ID_JS`: the same after a
    reload), else a script's Gradio session; within the visitor (login, else browser token),
    so an id only reaches its own visitor's runs. Live queues are per tab: two tabs of one
    browser each see their own runs, and a reloaded tab finds its runs again."""
    user = getattr(request, "username", None) if request else None
    visitor = f"user:{user}" if user else f"browser:{token}" if token else "anonymous"
    if tab_id and TAB_ID.fullmatch(tab_id):
        return f"{visitor}|tab:{tab_id}"
    return f"{visitor}|session:{getattr(request, 'session_hash', None) or ''}"


def reattachable(key: str) -> bool:
    """Whether a page can come back to the tab `key` names (a browser tab's id survives a
    reload; a script's Gradio session is never seen again)."""
    return "|tab:" in key


def owner_key(token: str | None, request: gr.Request | None, scope: str = "") -> str:
    """Whose runs: the login (with --auth), else the browser's token, else the session (a
    script, or an app without history); within the form `scope` names."""
    user = getattr(request, "username", None) if request else None
    if user:
        owner = f"user:{user}"
    elif token:
        owner = f"browser:{token}"
    else:
        owner = f"session:{getattr(request, 'session_hash', '')}"
    return f"{owner}/{scope}" if scope else owner

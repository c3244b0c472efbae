"""Remote images in rendered Markdown (runbooks, post-mortems): refused by default.

An image on another host is fetched by every reader's browser, which tells that host who read
the page and when (a tracking pixel). Images on this site, relative ones, and those on the hosts
listed in TOCSIN_MARKDOWN_IMAGE_HOSTS are shown; any other image becomes a plain link to it, so
a reader can still choose to open it.
"""

from urllib.parse import urlsplit

from django.conf import settings
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml


def image_allowed(src: str) -> bool:
    parts = urlsplit(src.strip())
    if not parts.scheme and not parts.netloc:
        return True  # relative: served by this site
    if parts.scheme not in ("http", "https"):
        return False
    host = (parts.hostname or "").lower()
    ours = urlsplit(settings.TOCSIN_BASE_URL).hostname or ""
    return host == ours.lower() or host in {h.lower() for h in settings.TOCSIN_MARKDOWN_IMAGE_HOSTS}


def _render_image(renderer, tokens, idx, options, env):
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if image_allowed(src):
        return renderer.image(tokens, idx, options, env)
    alt = renderer.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{escapeHtml(src)}">Image: {escapeHtml(alt)}</a>'


def refuse_remote_images(md: MarkdownIt) -> MarkdownIt:
    """Render `![alt](remote)` as a link instead of an image."""
    md.add_render_rule("image", _render_image)
    return md


def drop_remote_src(tag: str, attribute: str, value: str) -> str | None:
    """nh3 `attribute_filter` for raw HTML: an `<img>` keeps its `src` only when allowed."""
    if tag == "img" and attribute == "src" and not image_allowed(value):
        return None
    return value

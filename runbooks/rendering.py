"""Markdown to HTML that is safe to put on a page.

markdown-it-py renders (raw HTML allowed, so authors can use <kbd> or <details>), then nh3 keeps
only an allow-list of tags and attributes: scripts, event handlers and `javascript:` links are
removed whatever the Markdown or HTML said. Images on other hosts are refused (a Markdown image
becomes a link, a raw `<img>` loses its source): see incidents.core.markdown_images.
"""

from functools import cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from incidents.core.markdown_images import drop_remote_src, refuse_remote_images

ALLOWED_TAGS = {
    *("p", "br", "hr", "blockquote", "pre", "code", "kbd", "span", "div"),
    *("h1", "h2", "h3", "h4", "h5", "h6"),
    *("ul", "ol", "li", "dl", "dt", "dd"),
    *("strong", "em", "b", "i", "s", "del", "sub", "sup", "mark"),
    *("table", "thead", "tbody", "tr", "th", "td"),
    *("a", "img", "details", "summary"),
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}


@cache
def _markdown() -> MarkdownIt:
    # "commonmark" plus tables and strikethrough; linkify stays off (it needs an extra package).
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return refuse_remote_images(md)


def render_markdown(text: str) -> SafeString:
    html = _markdown().render(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        # Table alignment arrives as style="text-align:…"; nothing else survives.
        filter_style_properties={"text-align"},
        attribute_filter=drop_remote_src,
    )
    return mark_safe(clean)  # sanitized by nh3 just above

"""Pages → bytes: the Jinja environment, Markdown, sanitising and structured data.

:func:`render_page` is a pure function of a page and an environment, so pages can be
rendered in worker processes (each builds its own environment from the same config) with
the same bytes as in-process. Story bodies are untrusted: Markdown output goes through an
allow-list sanitiser before it reaches a template.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import html as html_lib
import json
import re
from collections.abc import MutableMapping, Sequence
from typing import Any

import jinja2
import nh3
import pygments
import pygments.formatters
import pygments.lexers
import pygments.util
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options as CmarkOptions
from cmarkgfm.cmark import core_extensions_ensure_registered, find_syntax_extension
from markupsafe import Markup

from builder import urls
from builder.assemble import MONTHS, Entry, Link, Page
from builder.config import DEFAULT_STATIC, DEFAULT_TEMPLATES, SiteConfig
from builder.errors import Diagnostic
from builder.model import Moment, Story

__all__ = [
    "DEFAULT_STATIC", "DEFAULT_TEMPLATES", "body_html", "environment", "http_url",
    "json_for_script", "long_date", "removed_html", "render_page", "story_jsonld",
]


ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "b", "i", "u", "s", "del", "ins", "sub", "sup", "small",
    "mark", "abbr", "cite", "q", "a", "ul", "ol", "li", "dl", "dt", "dd", "blockquote",
    "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
    "caption", "img", "figure", "figcaption", "code", "pre", "span", "div",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "ol": {"start"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    # Pygments marks tokens with classes; the stylesheet colours them.
    "span": {"class"},
    "div": {"class"},
    "pre": {"class"},
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
HTML_ELEMENTS = ALLOWED_TAGS | frozenset({
    "html", "head", "body", "title", "base", "link", "meta", "style", "script", "noscript",
    "template", "iframe", "frame", "frameset", "noframes", "object", "embed", "applet", "param",
    "form", "input", "button", "select", "option", "optgroup", "textarea", "label", "fieldset",
    "legend", "output", "datalist", "video", "audio", "source", "track", "canvas", "picture",
    "map", "area", "svg", "math", "h1", "section", "article", "aside", "header", "footer",
    "nav", "main", "details", "summary", "dialog", "marquee", "xmp", "plaintext", "noembed",
    "font", "center", "big", "tt", "strike", "kbd", "samp", "var", "dfn", "bdi", "bdo", "wbr",
    "time", "data", "ruby", "rt", "rp", "col", "colgroup", "address", "menu", "slot", "portal",
    "image", "isindex", "keygen", "listing", "nobr", "blink",
})
"""Every name a browser treats as an HTML element. ``<Kaiser Aluminum>`` or ``<BBF>`` in
wire copy (company names and tickers) is text, and is shown as such rather than dropped."""

_SANITISER = nh3.Cleaner(tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES,
                         url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer")
"""Made once: ``nh3.clean`` converts its settings per call, which cost more than the cleaning
(0.12 against 0.05 ms a story)."""
_HEADING = re.compile(r"<(/?)h([1-5])\b")
_FENCED_CODE = re.compile(r'<pre lang="([^"]*)"><code>(.*?)</code></pre>', re.DOTALL)
_CODE_FORMATTER = pygments.formatters.HtmlFormatter(cssclass="highlight")
_TAG_START = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
# Quoted attribute values may hold '<' and '>' (``srcdoc="<script>…"``): the tag is the
# iframe, not the script inside its attribute.
_RAW_TAG = re.compile(r"""<([A-Za-z][A-Za-z0-9:-]*)((?:\s(?:"[^"]*"|'[^']*'|[^<>"'])*)?)/?>""")
_DANGEROUS_ATTRIBUTE = re.compile(
    r"""\s(on[a-z]+|style|srcdoc|formaction)\s*=|(?:href|src|action)\s*=\s*["']?\s*"""
    r"""(?:javascript|vbscript|data)\s*:""", re.IGNORECASE)


def environment(config: SiteConfig, nav: Sequence[Link] = ()) -> jinja2.Environment:
    """The Jinja environment: the user's ``templates/`` first, then Gazette's defaults.

    Autoescaping is on for every template whatever its file name (``.xml`` and ``.atom``
    included: HTML escaping is valid XML escaping), and an undefined name is an error.
    """
    env = _Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(config.templates_path)),
                                    jinja2.FileSystemLoader(str(DEFAULT_TEMPLATES))]),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True, auto_reload=False,
    )
    env.globals.update(
        site=config, nav=tuple(nav), story_jsonld=lambda entry: story_jsonld(entry, config),
        breadcrumb_jsonld=lambda crumbs: _breadcrumb_jsonld(crumbs, config),
        collection_jsonld=lambda page: _collection_jsonld(page, config),
        fragment=_Fragments(env),
    )
    env.filters.update(
        href=lambda path: urls.href(config, path),
        absolute=lambda path: urls.absolute(config, path),
        jsonld=json_for_script,
        markdown=lambda text: Markup(body_html(text)),
        longdate=lambda moment: long_date(moment, config),
        isodate=lambda moment: _iso_local(moment, config),
        rfc3339=_rfc3339,
        http_url=http_url,
    )
    return env


class _Environment(jinja2.Environment):
    """Each template's globals are a dict of its own, made as it loads, not Jinja's
    ChainMap over the environment's: every render copies them into its context and every
    ``import`` compares their names, both in Python for a ChainMap (40 µs a page, or a
    story's line in a list; 7 µs with a dict). All globals are set before any template
    loads, as Jinja advises, so no template misses one."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def render_page(page: Page, env: jinja2.Environment) -> bytes:
    """The bytes of one page: a pure function of the page and the environment."""
    template = env.get_template(page.template)
    return template.render(page=page, **page.data).encode("utf-8")


class _Fragments:
    """``fragment(name, entry)`` for templates: template ``name`` rendered with ``entry``
    alone (and the globals), for a piece that shows one entry and nothing of its page (a
    story's line in a list, its entry in a feed). Each is remembered for the environment's
    life: a story listed on eight pages has its line rendered once. Entries are frozen, so
    the very same entry object (kept with its fragment, so that its id cannot be reused)
    renders the same fragment."""

    def __init__(self, env: jinja2.Environment) -> None:
        self._env = env
        self._known: dict[tuple[str, int], tuple[Entry, Markup]] = {}

    def __call__(self, name: str, entry: Entry) -> Markup:
        found = self._known.get((name, id(entry)))
        if found is None or found[0] is not entry:
            if len(self._known) >= _FRAGMENTS_KEPT:  # bounds a long-lived process's memory
                self._known.clear()
            found = (entry, Markup(self._env.get_template(name).render(entry=entry)))
            self._known[(name, id(entry))] = found
        return found[1]


_FRAGMENTS_KEPT = 30_000
"""At most this many fragments are remembered: a 10,000-story site's two kinds, with room.
The bound matters to the preview server, whose environment lives from build to build: a
fragment keeps its entry, and so its story, alive."""


# -- story bodies ------------------------------------------------------------------------

def body_html(text: str) -> str:
    """Markdown (GitHub flavour: tables, fenced code) → sanitised HTML.

    cmark-gfm, GitHub's C parser, is some 30 times faster than a pure-Python one, and a
    story page is mostly its body. Fenced code with a language is highlighted by Pygments;
    headings move one level down so the page's headline stays its only ``h1``.
    """
    html = _gfm_html(text)
    if '<pre lang="' in html:
        html = _FENCED_CODE.sub(_highlighted, html)
    # cmark escapes every '<' of the text, so each one left opens a tag or is stray text;
    # without a '<' in the text (most stories) all of them are cmark's own elements.
    if "<" in text:
        html = _TAG_START.sub(_escape_non_element, html)
    html = _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", html)
    return _SANITISER.clean(html)


_GFM_OPTIONS = CmarkOptions.CMARK_OPT_UNSAFE | CmarkOptions.CMARK_OPT_GITHUB_PRE_LANG
"""UNSAFE keeps raw HTML for the allow-list sanitiser to judge tag by tag; PRE_LANG marks a
fenced block's language as GitHub does."""


class _CmarkMemory(ctypes.Structure):
    """cmark's ``cmark_mem``: the allocator a document and its rendered HTML come from."""

    _fields_ = [("calloc", ctypes.c_void_p), ("realloc", ctypes.c_void_p),
                ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p))]


_CMARK = ctypes.CDLL(_cmark.__file__)  # the functions cmarkgfm's own interface leaves out
_CMARK.cmark_node_free.argtypes = [ctypes.c_void_p]
_CMARK.cmark_node_free.restype = None
_CMARK.cmark_get_default_mem_allocator.restype = ctypes.POINTER(_CmarkMemory)
_CMARK_FREE = _CMARK.cmark_get_default_mem_allocator().contents.free
"""What frees the HTML cmark renders (it allocates with its default allocator)."""
core_extensions_ensure_registered()
_GFM_EXTENSIONS = tuple(find_syntax_extension(name) for name in (
    "table", "autolink", "tagfilter", "strikethrough", "tasklist"))
"""GitHub's extensions, looked up once (static in cmark-gfm's library)."""


def _gfm_html(text: str) -> str:
    """cmark-gfm's HTML of ``text``, as ``cmarkgfm.github_flavored_markdown_to_html`` makes
    it, without its leak: that wrapper frees neither the document tree nor the HTML, some
    20 KB a story, 200 MB each time a long-lived process (the preview server) or a renderer
    goes through 10,000 story pages."""
    lib, ffi = _cmark.lib, _cmark.ffi
    parser = lib.cmark_parser_new(_GFM_OPTIONS)
    try:
        for extension in _GFM_EXTENSIONS:
            lib.cmark_parser_attach_syntax_extension(parser, extension)
        encoded = text.encode("utf-8", "surrogatepass")
        lib.cmark_parser_feed(parser, encoded, len(encoded))
        document = lib.cmark_parser_finish(parser)
        try:
            html = lib.cmark_render_html(document, _GFM_OPTIONS,
                                         lib.cmark_parser_get_syntax_extensions(parser))
            try:
                return ffi.string(html).decode("utf-8", "surrogatepass")
            finally:
                _CMARK_FREE(int(ffi.cast("uintptr_t", html)))
        finally:
            _CMARK.cmark_node_free(int(ffi.cast("uintptr_t", document)))
    finally:
        lib.cmark_parser_free(parser)


def _highlighted(match: re.Match[str]) -> str:
    try:
        lexer = pygments.lexers.get_lexer_by_name(html_lib.unescape(match.group(1)).strip())
    except pygments.util.ClassNotFound:
        return match.group(0)  # an unknown language stays plain code
    return pygments.highlight(html_lib.unescape(match.group(2)), lexer, _CODE_FORMATTER)


def _escape_non_element(match: re.Match[str]) -> str:
    if match.group(2).lower() in HTML_ELEMENTS:
        return match.group(0)
    return "&lt;" + match.group(1) + match.group(2)


def removed_html(story: Story, shown_path: str | None = None) -> tuple[Diagnostic, ...]:
    """A warning for each raw HTML tag in the body that the sanitiser will remove or change.

    ``shown_path`` is the file as diagnostics name it (default: ``story.path``). Lines are
    those of the story's file (``Story.body_line`` is where its body starts).
    """
    if not story.markup:
        return ()
    found = []
    in_fence = False
    for number, line in enumerate(story.body.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if in_fence or "<" not in line:
            continue
        for match in _RAW_TAG.finditer(re.sub(r"`[^`]*`", "", line)):
            name = match.group(1).lower()
            if name not in HTML_ELEMENTS:
                continue  # shown as text, not removed
            if name not in ALLOWED_TAGS or _DANGEROUS_ATTRIBUTE.search(match.group(0)):
                found.append(Diagnostic(
                    path=shown_path or story.path, line=story.body_line + number - 1,
                    severity="warning", message=f"raw HTML <{name}> removed for safety",
                    hint="write the story in Markdown; scripts, styles, frames, forms and "
                         "event handlers are never published"))
    return tuple(found)


def http_url(value: str | None) -> str:
    """``value`` if it is an absolute http(s) URL, else '' (never a ``javascript:`` link)."""
    if value and re.match(r"https?://[^\s/?#]+", value, re.IGNORECASE) \
            and not any(c.isspace() or ord(c) < 0x20 for c in value):
        return value
    return ""


# -- dates -------------------------------------------------------------------------------

def _local(moment: Moment, config: SiteConfig) -> Moment:
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        return moment.astimezone(config.tzinfo)
    return moment


def long_date(moment: Moment | None, config: SiteConfig) -> str:
    """``14 January 2021`` (with ``, 09:30`` when the time is known), in the site's zone."""
    if moment is None:
        return "undated"
    local = _local(moment, config)
    text = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    if isinstance(local, dt.datetime):
        text += f", {local:%H:%M}"
    return text


def _iso_local(moment: Moment | None, config: SiteConfig) -> str:
    return "" if moment is None else _local(moment, config).isoformat()


def _rfc3339(moment: Moment | None) -> str:
    """An Atom timestamp; a bare day is midnight UTC, an aware datetime is shown in UTC."""
    if moment is None:
        return "1970-01-01T00:00:00Z"
    if not isinstance(moment, dt.datetime):
        return f"{moment.isoformat()}T00:00:00Z"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- structured data ---------------------------------------------------------------------

def json_for_script(value: Any) -> Markup:
    """JSON safe inside ``<script>``: ``<``, ``>``, ``&``, U+2028 and U+2029 are escaped,
    so no value can close the element or break a JavaScript parser."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return Markup(text)


def story_jsonld(entry: Entry, config: SiteConfig) -> dict[str, Any]:
    """schema.org ``NewsArticle`` of a story page."""
    story = entry.story
    data: dict[str, Any] = {
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": story.title,
        "url": urls.absolute(config, entry.url), "inLanguage": story.lang or config.language,
        "articleSection": entry.topic.label,
        "mainEntityOfPage": urls.absolute(config, entry.url),
    }
    if story.date is not None:
        data["datePublished"] = _iso_local(story.date, config)
        data["dateModified"] = _iso_local(story.updated or story.date, config)
    if story.summary:
        data["description"] = story.summary
    if story.tags:
        data["keywords"] = [link.label for link in entry.tags]
    if story.byline:
        data["author"] = {"@type": "Person", "name": story.byline}
    if story.source:
        data["sourceOrganization"] = {"@type": "Organization", "name": story.source}
    data["publisher"] = {"@type": "Organization", "name": story.publisher or config.title}
    based_on = [urls.absolute(config, entry.original.url)] if entry.original else []
    if story.source_url:
        based_on.append(story.source_url)
    if based_on:  # the earliest version of a wire copy, and the original publication
        data["isBasedOn"] = based_on[0] if len(based_on) == 1 else based_on
    if story.license:
        data["license"] = story.license
    return data


def _breadcrumb_jsonld(crumbs: Sequence[Link], config: SiteConfig) -> dict[str, Any]:
    return {"@context": "https://schema.org", "@type": "BreadcrumbList",
            "itemListElement": [{"@type": "ListItem", "position": n, "name": link.label,
                                 "item": urls.absolute(config, link.url)}
                                for n, link in enumerate(crumbs, start=1)]}


def _collection_jsonld(page: Page, config: SiteConfig) -> dict[str, Any]:
    return {"@context": "https://schema.org", "@type": "CollectionPage",
            "name": page.title, "url": urls.absolute(config, page.url),
            "description": page.description}


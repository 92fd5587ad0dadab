"""Issue 6, "Content safety": a corpus of hostile stories is built into a site and every
page is parsed as a browser would (html5lib). Nothing a story says may become a script, an
event handler or a dangerous URL — and what the story says must still be shown, as text,
where a reader looks for it (Pelican printed a ``<script>`` title raw into ``<h1>``).

The corpus is ``tests/fixtures/hostile/content/``: front matter, ``Key: value`` headers and
the seed shape, with script tags, event handlers, ``javascript:`` in every encoding, quotes
that try to break out of attributes, hostile fence info strings, link titles, image alts,
SVG, MathML, iframes, forms and styles.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import html5lib
import pytest

from builder import render
from builder.config import SiteConfig, load_config
from builder.pipeline import BuildResult, build

FIXTURES = Path(__file__).parent / "fixtures" / "hostile"
BASE_URL = "https://archive.example/news/"
SITE_BASE = urlsplit(BASE_URL).path
"""Links on the pages start with the base path, so the site's own assets are under it."""

URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "data",
                            "poster", "background", "srcset", "cite", "ping", "lowsrc"})
DANGEROUS_SCHEME = re.compile(r"^(?:javascript|vbscript|data|livescript|mocha):", re.IGNORECASE)
FORBIDDEN_ELEMENTS = frozenset({"iframe", "frame", "frameset", "object", "embed", "applet",
                                "base", "svg", "math", "style", "template"})
"""Never on any page: the site's own templates use none of them."""
FORBIDDEN_IN_STORY = frozenset({"input", "button", "textarea", "select", "noscript", "form",
                                "link", "meta"})
"""The search page has its own form and <noscript>; a story body may have none."""
JSON_LD = "application/ld+json"
OUR_INLINE_SCRIPTS = frozenset(
    " ".join(body.split())
    for template in render.DEFAULT_TEMPLATES.rglob("*.html")
    for body in re.findall(r"<script>(.*?)</script>", template.read_text("utf-8"), re.DOTALL)
    if "{{" not in body and "{%" not in body)
"""Inline scripts written literally in the shipped templates (no value of a story in
them): the only inline scripts a page may carry besides JSON-LD."""


# -- the build ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> tuple[Path, BuildResult]:
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(FIXTURES / "content", root / "content")
    (root / "gazette.toml").write_text(f'base_url = "{BASE_URL}"\ntitle = "Hostile & <Co>"\n',
                                       encoding="utf-8")
    result = build(load_config(root), jobs=1)
    return root / "site", result


def _pages(site: Path, suffix: str = ".html") -> list[Path]:
    return sorted(p for p in site.rglob(f"*{suffix}") if p.is_file())


def _parse(path: Path):
    return html5lib.parse(path.read_bytes(), treebuilder="etree", namespaceHTMLElements=False)


def _local(name: str) -> str:
    """``{namespace}name`` → ``name``; html5lib names SVG/MathML elements and xlink
    attributes that way (an xlink attribute keeps the ``xlink:`` prefix for the check)."""
    if name.startswith("{http://www.w3.org/1999/xlink}"):
        return "xlink:" + name.split("}", 1)[1]
    return name.split("}", 1)[1] if name.startswith("{") else name


def _text(element) -> str:
    return " ".join("".join(element.itertext()).split())


def _scheme_of(value: str) -> str:
    """The URL as a browser reads it: control characters and white space inside the scheme
    are dropped (``jav\\tascript:``), so compare without them."""
    return re.sub(r"[\x00-\x20\x7f]+", "", value)


def _problems(tree, site_base: str) -> list[str]:
    """Everything in one parsed document that could run code or leave the page."""
    found: list[str] = []
    _check(tree if not hasattr(tree, "getroot") else tree.getroot(), site_base, False, found)
    return found


def _check(element, site_base: str, in_story: bool, found: list[str]) -> None:
    if isinstance(element.tag, str):  # not a comment
        tag = _local(element.tag)
        in_story = in_story or "story-body" in element.get("class", "").split()
        if tag in FORBIDDEN_ELEMENTS or (in_story and tag in FORBIDDEN_IN_STORY):
            found.append(f"<{tag}> element{' in a story body' if in_story else ''}")
        if tag == "script":
            kind = element.get("type", "")
            src = element.get("src", "")
            inline = " ".join("".join(element.itertext()).split())
            if not (kind == JSON_LD and not src) and not _our_script(src, site_base) \
                    and not (not src and not kind and inline in OUR_INLINE_SCRIPTS):
                found.append(f"foreign <script type={kind!r} src={src!r}>")
        if tag == "form" and not (element.get("action") == site_base + "search/"
                                  and element.get("id") == "search"):
            found.append(f"foreign <form action={element.get('action')!r}>")
        if tag == "meta" and element.get("http-equiv"):
            found.append(f"<meta http-equiv={element.get('http-equiv')!r}>")
        if tag == "link" and element.get("rel") == "stylesheet" and \
                not _our_asset(element.get("href", ""), site_base):
            found.append(f"foreign stylesheet {element.get('href')!r}")
        for raw_name, value in element.attrib.items():
            name = _local(raw_name).lower()
            if name.startswith("on"):
                found.append(f"<{tag} {name}=…> event handler")
            if name in ("style", "srcdoc"):
                found.append(f"<{tag} {name}=…>")
            if name in URL_ATTRIBUTES and DANGEROUS_SCHEME.match(_scheme_of(value)):
                found.append(f"<{tag} {name}={value!r}>")
    for child in element:
        _check(child, site_base, in_story, found)


def _our_script(src: str, site_base: str) -> bool:
    """The site's own scripts: its static files and the Pagefind search bundle."""
    return bool(src) and _our_asset(src, site_base)


def _our_asset(url: str, site_base: str) -> bool:
    return url.startswith((site_base + "static/", site_base + "pagefind/"))


# -- every page --------------------------------------------------------------------------

def test_the_hostile_corpus_builds_every_story(hostile_site):
    site, result = hostile_site
    assert result.skipped == ()
    assert result.stories == len(list((FIXTURES / "content").rglob("*.*")))


def test_no_page_has_a_foreign_script_event_handler_or_dangerous_url(hostile_site):
    site, _ = hostile_site
    pages = _pages(site)
    assert len(pages) > 20
    problems = {str(p.relative_to(site)): _problems(_parse(p), SITE_BASE) for p in pages}
    assert {page: found for page, found in problems.items() if found} == {}


def test_every_page_parses_without_a_single_html_error(hostile_site):
    """Escaping that is wrong in a subtle way (a stray quote, an unclosed element from a
    story body) shows up as a parse error long before it shows up as an exploit."""
    site, _ = hostile_site
    for page in _pages(site):
        parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
        try:
            parser.parse(page.read_bytes())
        except html5lib.html5parser.ParseError as exc:
            pytest.fail(f"{page.relative_to(site)}: {exc}")


def test_every_link_in_a_story_body_uses_an_allowed_scheme(hostile_site):
    """The sanitiser is an allow-list: a body link is relative, http(s) or mailto — never
    anything else, however the scheme was spelled (entities, case, white space inside)."""
    site, _ = hostile_site
    for page in _pages(site):
        body = _parse(page).find(".//*[@class='story-body']")
        if body is None:
            continue
        for element in body.iter():
            for name in ("href", "src"):
                value = element.get(name)
                if value is not None:
                    scheme = urlsplit(_scheme_of(value)).scheme.lower()
                    assert scheme in ("", "http", "https", "mailto"), (page, value)


def test_every_feed_and_sitemap_is_well_formed_xml_with_safe_content(hostile_site):
    site, _ = hostile_site
    feeds = _pages(site, ".xml")
    assert any(p.name == "atom.xml" for p in feeds)
    for feed in feeds:
        try:
            root = ET.fromstring(feed.read_bytes())
        except ET.ParseError as exc:
            pytest.fail(f"{feed.relative_to(site)} is not well-formed XML: {exc}")
        for element in root.iter():
            if element.get("type") == "html" and element.text:
                fragment = html5lib.parseFragment(element.text, treebuilder="etree",
                                                  namespaceHTMLElements=False)
                assert _problems(fragment, SITE_BASE) == [], feed


# -- the hostile text is still shown, as text --------------------------------------------

def _story_file(site: Path, title_part: str) -> Path:
    """The story page whose headline contains ``title_part``."""
    for page in _pages(site):
        tree = _parse(page)
        h1 = tree.find(".//h1")
        if h1 is not None and title_part in _text(h1) and tree.find(".//article") is not None:
            return page
    pytest.fail(f"no story page whose <h1> contains {title_part!r}")


def _story_page(site: Path, title_part: str):
    return _parse(_story_file(site, title_part))


def test_a_hostile_front_matter_title_byline_dateline_and_tags_are_shown_as_text(hostile_site):
    site, _ = hostile_site
    title = "<script>alert('title')</script> Minister says \"no\" & 'never' </title><b>"
    tree = _story_page(site, "Minister says")
    assert _text(tree.find(".//h1")) == " ".join(title.split())
    assert title in tree.find(".//title").text
    byline = tree.find(".//*[@class='byline']")
    assert _text(byline) == "\"><img src=x onerror=alert('byline')> O'Brien & \"Sons\""
    dateline = tree.find(".//*[@class='dateline']")
    assert _text(dateline) == "'><svg onload=alert('dateline')>MOSCOW"
    tags = [_text(a) for a in tree.findall(".//*[@class='story-tags']//a")]
    assert "\"><script>alert('tag')</script>" in tags
    assert "Tag\" onmouseover=\"alert('tag2')" in tags
    assert "</a><a href=javascript:alert(1)>x" in tags
    kicker = tree.find(".//*[@class='kicker']")
    assert _text(kicker) == "</title><script>alert('topic')</script>Politics"


def test_hostile_key_value_headers_are_shown_as_text(hostile_site):
    site, _ = hostile_site
    tree = _story_page(site, "Festival")
    assert _text(tree.find(".//h1")) == "\"><script>alert('hdr')</script> Festival \"opens\" & <closes>"
    assert "Festival \"opens\" & <closes>" in tree.find(".//title").text
    assert _text(tree.find(".//*[@class='byline']")) == "<b onmouseover=alert('hb')>Jane</b> \"Doe\""
    assert _text(tree.find(".//*[@class='dateline']")) == "</p><script>alert('hd')</script>BAKU"
    facts = _text(tree.find(".//*[@class='story-facts']"))
    assert "Agency\"><svg onload=alert('hs')>" in facts
    tags = [_text(a) for a in tree.findall(".//*[@class='story-tags']//a")]
    assert "<script>alert('ht')</script>" in tags
    # A raw (non-Markdown) shape keeps its angle brackets as text rather than losing them.
    body = _text(tree.find(".//*[@class='story-body']"))
    assert "<svg onload=\"alert('svg')\"><circle r=\"10\"/></svg> An inline SVG" in body


def test_a_reuters_wire_story_with_encoded_markup_shows_it_as_text(hostile_site):
    """SGML wire copy carries markup as entities; decoding them must not make them live."""
    site, _ = hostile_site
    tree = _story_page(site, "GRAIN TARGET")
    assert _text(tree.find(".//h1")) == "<SCRIPT>ALERT('WIRE')</SCRIPT> GRAIN TARGET \"RAISED\""
    assert _text(tree.find(".//*[@class='kicker']")) == "<img src=x onerror=alert('topic')>"
    body = _text(tree.find(".//*[@class='story-body']"))
    assert "<a href=\"javascript:alert('wirebody')\">was raised</a>" in body


def test_a_javascript_source_url_is_never_a_link(hostile_site):
    site, _ = hostile_site
    for title in ("Minister says", "Festival"):
        tree = _story_page(site, title)
        credit = tree.find(".//*[@class='credit']")
        if credit is not None:
            assert all(not DANGEROUS_SCHEME.match(_scheme_of(a.get("href", "")))
                       for a in credit.iter("a"))


def test_code_fences_with_hostile_info_strings_show_the_code_as_text(hostile_site):
    site, _ = hostile_site
    tree = _story_page(site, "Code fences")
    code = " ".join(_text(block) for block in tree.iter("pre"))
    assert "print(\"</code></pre><script>alert('in-code')</script>\")" in code
    assert "plain text" in code and "tilde fence" in code
    inline = [_text(c) for c in tree.iter("code")]
    assert "<script>alert('inline')</script>" in inline


def test_safe_links_and_the_link_title_survive_sanitising(hostile_site):
    site, _ = hostile_site
    tree = _story_page(site, "Links that try")
    links = {a.get("href"): a for a in tree.findall(".//article//a")}
    assert "https://example.org/safe" in links
    titled = links.get("https://example.org/ok")
    assert titled is not None and titled.get("title") == "He said \"hi\" onmouseover=alert('lt')"
    image = next(img for img in tree.iter("img") if img.get("src") == "https://example.org/pic.png")
    assert image.get("alt") == "alt\" onerror=\"alert('alt')"


# -- structured data ---------------------------------------------------------------------

def test_json_ld_cannot_close_its_script_and_round_trips_the_hostile_title(hostile_site):
    site, _ = hostile_site
    raw = _story_file(site, "Minister says").read_text("utf-8")
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', raw, re.DOTALL)
    assert blocks, "the story page has no JSON-LD"
    for block in blocks:
        assert "</" not in block and "<!--" not in block
        assert "\u2028" not in block and "\u2029" not in block
    article = next(json.loads(b) for b in blocks if json.loads(b)["@type"] == "NewsArticle")
    assert article["headline"].startswith("<script>alert('title')</script> Minister says")
    assert "Summary with </script><script>alert('summary')</script>" in article["description"]


@pytest.mark.parametrize("value", [
    "</script><script>alert(1)</script>", "<!--", "\u2028\u2029", "</SCRIPT >", "&lt;",
    {"k": ["</script>", "\u2028"]},
])
def test_json_for_script_escapes_everything_that_could_end_the_element(value):
    text = str(render.json_for_script(value))
    assert "<" not in text and ">" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == value


# -- templates ---------------------------------------------------------------------------

TEMPLATE_NAMES = sorted(p.relative_to(render.DEFAULT_TEMPLATES).as_posix()
                        for p in render.DEFAULT_TEMPLATES.rglob("*") if p.is_file())


def test_the_template_walk_covers_xml_and_text_templates():
    suffixes = {Path(name).suffix for name in TEMPLATE_NAMES}
    assert {".html", ".xml"} <= suffixes


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_name_is_autoescaped(name, tmp_path):
    """Whatever a template is called (``.html``, ``.xml``, ``.txt``, ``.atom``), a value
    printed in it is escaped: a user's template of that name shadows the shipped one here,
    so the test proves what the environment does for the name, not for one file."""
    env = render.environment(SiteConfig(root=tmp_path))
    autoescape = env.autoescape(name) if callable(env.autoescape) else env.autoescape
    assert autoescape is True, f"{name} is not autoescaped"
    shadow = tmp_path / "templates" / name
    shadow.parent.mkdir(parents=True, exist_ok=True)
    shadow.write_text("[{{ value }}]", encoding="utf-8")
    env = render.environment(SiteConfig(root=tmp_path))
    out = env.get_template(name).render(value="<a href=\"x\" title='y'>&")
    assert out == "[&lt;a href=&#34;x&#34; title=&#39;y&#39;&gt;&amp;]"


@pytest.mark.parametrize("name", ["feed.atom", "extra.rss", "notes.txt", "page.htm", "noext"])
def test_user_templates_with_other_extensions_are_autoescaped_too(name, tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / name).write_text("{{ value }}", encoding="utf-8")
    env = render.environment(SiteConfig(root=tmp_path))
    assert env.get_template(name).render(value="<b>") == "&lt;b&gt;"


# -- warnings for removed HTML -----------------------------------------------------------

def _file_line(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.mark.parametrize("relative, needle, tag", [
    ("politics/attribute-breakers.md", "<script>alert('body')", "script"),
    ("politics/attribute-breakers.md", "<iframe", "iframe"),
    ("politics/attribute-breakers.md", "<style>", "style"),
    ("world/svg-math-and-friends.md", "<object", "object"),
    ("world/svg-math-and-friends.md", "<iframe srcdoc", "iframe"),
])
def test_removed_raw_html_is_a_warning_naming_the_file_and_its_line(hostile_site, relative,
                                                                     needle, tag):
    _, result = hostile_site
    source = FIXTURES / "content" / relative
    line = _file_line(source, needle)
    matching = [d for d in result.warnings
                if d.path.endswith(relative) and f"<{tag}>" in d.message]
    assert matching, f"no warning for the removed <{tag}> in {relative}"
    assert all(d.severity == "warning" for d in matching)
    assert line in {d.line for d in matching}, (
        f"<{tag}> is on line {line} of {relative}; warnings say lines "
        f"{sorted({d.line for d in matching}, key=str)}: {[str(d) for d in matching]}")

"""Rendering: escaping everywhere, sanitised bodies, safe JSON-LD, what a story page shows."""

import dataclasses
import datetime as dt
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib
import jinja2
import pytest

from builder import render
from builder.assemble import assemble
from builder.config import SiteConfig
from builder.model import Story

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


def seed_story(**changes):
    values = dict(
        id="a203978440becfc5", path="politics/000_a203978440becfc5.txt",
        title="Putin and Erdogan discuss Nagorno-Karabakh by phone",
        date=dt.date(2021, 1, 14), topic="politics", slug="putin-and-erdogan-discuss",
        body="A phone conversation between Vladimir Putin and Recep Tayyip Erdogan took place.\n\n"
             "```python\nprint('<b>hi</b>')\n```\n",
        source="Trend", publisher="AzerNews", byline="Staff writer", dateline="MOSCOW",
        tags=("Recep Tayyip Erdogan", "Vladimir Putin"), summary="Putin and Erdogan talked.",
        footer="Follow us on Twitter @AzerNewsAz", content_hash="abc",
    )
    values.update(changes)
    return Story(**values)


def render_site(stories, config=None):
    config = config or SiteConfig(base_url="https://example.org/news/")
    site = assemble(stories, config)
    env = render.environment(config, site.nav)
    return {p.url: render.render_page(p, env).decode() for p in site.pages}


def parse(html):
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)


def text_of(element):
    return " ".join("".join(element.itertext()).split())


def test_every_template_autoescapes_whatever_its_name():
    env = render.environment(SiteConfig())
    names = [p.name for p in render.DEFAULT_TEMPLATES.iterdir() if p.is_file()]
    assert {"atom.xml", "sitemap.xml", "robots.txt", "base.html"} <= set(names)
    for name in names:
        template = env.get_template(name)
        assert template.environment.autoescape is True
        assert env.from_string("{{ v }}").render(v="<&>") == "&lt;&amp;&gt;"


def test_hostile_metadata_is_escaped_in_html_and_feeds():
    story = seed_story(title=HOSTILE, byline=HOSTILE, dateline=HOSTILE, tags=(HOSTILE,),
                       summary=HOSTILE, source=HOSTILE)
    pages = render_site([story])
    for url, html in pages.items():
        if url.endswith((".xml", ".txt")):
            continue
        for element in parse(html).iter():
            assert not [a for a in element.attrib if a.lower().startswith("on")], url
            if element.tag == "script":  # only data, and the search page's own module
                assert (element.get("type") == "application/ld+json"
                        or (url == "/search/" and element.get("src") == "/news/static/search.js"
                            and not (element.text or "").strip())), url
    story_html = pages["/2021/01/14/putin-and-erdogan-discuss/"]
    tree = parse(story_html)
    assert text_of(tree.find(".//h1")) == HOSTILE  # the reader still sees the text
    scripts = tree.findall(".//script")
    assert all(s.get("type") == "application/ld+json" for s in scripts)
    ET.fromstring(pages["/atom.xml"].encode())  # still well-formed XML
    ET.fromstring(pages["/sitemap.xml"].encode())


@pytest.mark.parametrize("markdown_text, forbidden", [
    ("<script>alert(1)</script>", "<script"),
    ('<img src="x" onerror="alert(1)">', "onerror"),
    ("[x](javascript:alert(1))", "javascript:"),
    ("[x](JaVaScRiPt:alert(1))", "alert"),
    ("[x](vbscript:msgbox(1))", "vbscript"),
    ('<a href="data:text/html,<script>alert(1)</script>">x</a>', "data:"),
    ('<iframe src="https://evil.example"></iframe>', "<iframe"),
    ('<form action="/x"><input name=a></form>', "<form"),
    ("<style>body{display:none}</style>", "<style"),
    ('<p style="position:fixed">x</p>', "style="),
    ('<svg><script>alert(1)</script></svg>', "<svg"),
])
def test_body_sanitiser_removes_what_is_dangerous(markdown_text, forbidden):
    html = render.body_html(markdown_text)
    assert forbidden.lower() not in html.lower()


def test_body_keeps_what_stories_use():
    text = ("Para with *em*, **strong** and [a link](https://example.org \"T\").\n\n"
            "> quoted\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "![alt text](https://example.org/i.png)\n\n# Heading\n\n"
            "```python\ndef f(): return '<x>'\n```\n")
    html = render.body_html(text)
    for piece in ("<em>em</em>", "<strong>strong</strong>", 'href="https://example.org"',
                  "<blockquote>", "<li>one</li>", "<table>", "<td>1</td>",
                  'alt="alt text"', '<div class="highlight">', '<span class="k">def</span>',
                  "&lt;x&gt;", "<h2>Heading</h2>"):
        assert piece in html, piece
    assert "<h1" not in html  # the headline stays the page's only h1


MARKDOWN_SHAPES = [
    "", "Plain text.", "# Head\n\nPara with *em*, **strong**, ~~gone~~ and `code`.",
    "| a | b |\n|---|---|\n| 1 | 2 |\n", "- [x] done\n- [ ] to do\n",
    "See https://example.org and www.example.com.", "```python\nx = 1 < 2\n```\n",
    "<div>raw <script>alert(1)</script></div>\n\n<title>x</title>", "Ünïcode — “quoted” ✓",
    "> quote\n>\n> > nested\n\n1. one\n2. two\n\n---\n\n![img](a.png \"t\")",
]


@pytest.mark.parametrize("text", MARKDOWN_SHAPES)
def test_markdown_is_what_cmark_gfm_makes(text):
    import cmarkgfm
    from cmarkgfm.cmark import Options

    assert render._gfm_html(text) == cmarkgfm.github_flavored_markdown_to_html(
        text, options=Options.CMARK_OPT_UNSAFE)


def test_markdown_frees_what_cmark_allocates():
    """cmarkgfm's own wrapper leaks each document and its HTML (20 KB a story here)."""
    def resident_bytes() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    body = "\n\n".join(f"Paragraph {n} with a [link](https://example.org/{n}) and *words*. "
                         * 4 for n in range(12))
    for _ in range(200):  # the allocator's pools settle
        render._gfm_html(body)
    before = resident_bytes()
    for _ in range(4000):
        render._gfm_html(body)
    assert resident_bytes() - before < 8 * 2**20  # leaking, 4,000 copies: 60 MB


def test_removed_raw_html_is_reported_by_body_line():
    story = seed_story(body="Fine.\n\n<script>x()</script>\n\n`<script>` in code is fine\n\n"
                            "```\n<iframe>\n```\n<img src=a onerror=b>")
    warnings = render.removed_html(story)
    # The story's body starts on line 1 of its file here (Story.body_line).
    assert [(w.line, w.message) for w in warnings] == [
        (3, "raw HTML <script> removed for safety"),
        (10, "raw HTML <img> removed for safety"),
    ]
    assert all(w.path == story.path and w.severity == "warning" for w in warnings)
    assert render.removed_html(seed_story()) == ()
    assert render.removed_html(seed_story(body="<Kaiser Aluminum> and <BBF> said")) == ()


def test_angle_brackets_that_are_not_html_are_shown_as_text():
    html = render.body_html("BARNETT BANKS <BBF> said <Kaiser Aluminum Corp> and <b>bold</b>.")
    assert "&lt;BBF&gt;" in html and "&lt;Kaiser Aluminum Corp&gt;" in html
    assert "<b>bold</b>" in html


def test_json_for_script_cannot_close_the_script_element():
    text = render.json_for_script({"headline": "</script><script>alert(1)</script>\u2028\u2029&"})
    assert "</" not in text and "\u2028" not in text and "\u2029" not in text and "&" not in text
    assert json.loads(text) == {"headline": "</script><script>alert(1)</script>\u2028\u2029&"}


def test_story_page_shows_what_a_reader_expects():
    story = seed_story(license="CC BY 2.5", source_url="https://en.wikinews.org/wiki/X")
    older = seed_story(id="old", path="politics/old.txt", slug="older", title="Older one",
                       date=dt.date(2021, 1, 13), body="Older.", content_hash="o")
    html = render_site([story, older])["/2021/01/14/putin-and-erdogan-discuss/"]
    tree = parse(html)
    [h1] = tree.findall(".//h1")
    assert text_of(h1) == story.title
    assert tree.find(".//time").get("datetime") == "2021-01-14"
    assert text_of(tree.find(".//time")) == "14 January 2021"
    facts = dict(zip((text_of(e) for e in tree.iter("dt")), (text_of(e) for e in tree.iter("dd"))))
    assert facts == {"Published": "14 January 2021", "Source": "Trend",
                     "Publisher": "AzerNews", "Byline": "Staff writer"}
    assert text_of(tree.find(".//p[@class='dateline']")) == "MOSCOW"
    hrefs = {a.get("href"): text_of(a) for a in tree.iter("a")}
    assert hrefs["/news/tags/recep-tayyip-erdogan/"] == "Recep Tayyip Erdogan"
    assert hrefs["/news/topics/politics/"] == "politics"
    assert hrefs["/news/2021/01/13/older/"] == "Older one"
    assert "Follow us on Twitter" in text_of(tree.find(".//aside[@class='publisher-note']"))
    credit = text_of(tree.find(".//p[@class='credit']"))
    assert credit.startswith("Text: Trend, CC BY 2.5, changed:")
    assert credit.endswith("original: https://en.wikinews.org/wiki/X")
    assert tree.find(".//link[@rel='canonical']").get("href") == \
        "https://example.org/news/2021/01/14/putin-and-erdogan-discuss/"
    assert tree.find(".//meta[@property='og:type']").get("content") == "article"
    documents = [json.loads(s.text) for s in tree.findall(".//script")]
    article = next(d for d in documents if d["@type"] == "NewsArticle")
    assert article["headline"] == story.title and article["datePublished"] == "2021-01-14"
    assert article["sourceOrganization"]["name"] == "Trend"
    assert article["keywords"] == ["Recep Tayyip Erdogan", "Vladimir Putin"]
    crumbs = next(d for d in documents if d["@type"] == "BreadcrumbList")
    assert crumbs["itemListElement"][-1]["name"] == story.title
    assert tree.find(".//div[@class='highlight']") is not None


def test_every_html_page_has_the_landmarks_and_one_h1():
    stories = [seed_story(), seed_story(id="b", path="b.txt", slug="b", title="B",
                                        date=dt.date(2021, 2, 1), content_hash="b", body="B.")]
    for url, html in render_site(stories).items():
        if not url.endswith(("/", ".html")):
            continue
        tree = parse(html)
        assert tree.get("lang") == "en", url
        assert len(tree.findall(".//h1")) == 1, url
        for landmark in ("header", "nav", "main", "footer"):
            assert tree.find(f".//{landmark}") is not None, (url, landmark)
        assert tree.find(".//a[@class='skip-link']").get("href") == "#main"
        assert tree.find(".//title").text and tree.find(".//meta[@name='description']") is not None
        assert tree.find(".//meta[@property='og:title']") is not None


def test_user_templates_override_the_defaults(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "404.html").write_text(
        '{% extends "base.html" %}{% block main %}<h1>Custom {{ "<gone>" }}</h1>{% endblock %}')
    pages = render_site([seed_story()], SiteConfig(root=tmp_path))
    assert "<h1>Custom &lt;gone&gt;</h1>" in pages["/404.html"]


def test_undefined_names_in_templates_are_errors(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "404.html").write_text("{{ no_such_name }}")
    with pytest.raises(jinja2.UndefinedError):
        render_site([seed_story()], SiteConfig(root=tmp_path))


def second_story():
    return seed_story(id="b1", path="politics/b1.txt", slug="second", title="Second <story>",
                      date=dt.date(2021, 1, 15), summary="", source="Trend",
                      body="Another story entirely.", content_hash="def")


@pytest.mark.parametrize("url, golden, stories", [
    ("/2021/01/14/putin-and-erdogan-discuss/", "story.html", 1),
    ("/atom.xml", "atom.xml", 1),
    ("/", "home.html", 2),  # story lines: fragments reused from page to page
])
def test_rendered_pages_match_the_golden_files(url, golden, stories):
    """Update with GAZETTE_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
    html = render_site([seed_story(license="CC BY 2.5",
                                   source_url="https://en.wikinews.org/wiki/X"),
                        second_story()][:stories])[url]
    path = GOLDEN / golden
    if os.environ.get("GAZETTE_UPDATE_GOLDEN"):
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8")


def test_a_hostile_source_url_is_shown_but_never_linked():
    html = render_site([seed_story(source_url="javascript:alert(1)", license="CC BY 2.5")])[
        "/2021/01/14/putin-and-erdogan-discuss/"]
    credit = parse(html).find(".//p[@class='credit']")
    assert credit.find("a") is None and "javascript:alert(1)" in text_of(credit)
    assert render.http_url("https://en.wikinews.org/wiki/X") == "https://en.wikinews.org/wiki/X"
    assert render.http_url("https://x.org/a b") == "" and render.http_url(None) == ""


def test_a_story_line_is_rendered_once_per_entry_and_shown_alike_on_every_list():
    config = SiteConfig(base_url="https://example.org/news/")
    site = assemble([seed_story(), second_story()], config)
    env = render.environment(config, site.nav)
    pages = {p.url: render.render_page(p, env).decode() for p in site.pages}
    entry = next(e for e in site.entries if e.story.id == "b1")
    line = env.globals["fragment"]("_story_line.html", entry)
    assert env.globals["fragment"]("_story_line.html", entry) is line  # remembered
    lists = [url for url, html in pages.items() if line in html]
    assert {"/", "/topics/politics/", "/sources/trend/"} <= set(lists)
    assert "Second &lt;story&gt;" in line
    # Another entry (an edit of the same story) is never served the remembered line.
    edited = dataclasses.replace(entry, story=dataclasses.replace(entry.story, title="Edited"))
    assert "Edited" in env.globals["fragment"]("_story_line.html", edited)
    assert "Second" not in env.globals["fragment"]("_story_line.html", edited)


def test_a_project_may_override_the_story_line(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "_story_line.html").write_text(
        "<li class=custom>{{ entry.story.title }}</li>\n")
    pages = render_site([seed_story(), second_story()], SiteConfig(root=tmp_path))
    assert pages["/"].count("<li class=custom>") == 2
    assert "<li class=custom>Second &lt;story&gt;</li>" in pages["/topics/politics/"]


def test_remembered_fragments_are_bounded(monkeypatch):
    """The preview's environment lives from build to build: what it remembers must not grow
    with every edit (a fragment keeps its entry and story alive)."""
    monkeypatch.setattr(render, "_FRAGMENTS_KEPT", 3)
    config = SiteConfig()
    entry = assemble([seed_story()], config).entries[0]
    fragment = render.environment(config).globals["fragment"]
    versions = [dataclasses.replace(entry, story=dataclasses.replace(entry.story, title=f"V{n}"))
                for n in range(7)]
    for version in versions:
        assert version.story.title in fragment("_story_line.html", version)
    assert len(fragment._known) <= 3

"""Generate ``monitor/web/runbook.html`` from ``docs/runbook.md``: the monitor serves it at
``/runbook``, so the "Panduan" link of every message points at a page that exists on the
site's own server (offline too), not at a repository on the internet.

One section per alert, each ``## MppName`` heading with the id ``mppname`` (the anchor the
rules' ``runbook_url`` ends in). Rendered with markdown-it-py (CommonMark) at build time, so
the service itself needs no Markdown library.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "docs/runbook.md"
OUT = "monitor/web/runbook.html"

PAGE = """\
<!doctype html>
<!-- Generated from {source} by tools/generate.py: edit the Markdown, not this file. -->
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 1rem auto;
  padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }}
h2 {{ border-top: 1px solid #ccc; padding-top: 1rem; margin-top: 2rem; }}
h2:target {{ background: #fff4c2; }}
code {{ background: #f2f2f2; padding: 0 .2em; }}
pre {{ background: #f2f2f2; padding: .5rem; overflow-x: auto; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .2rem .4rem; }}
</style>
</head>
<body>
{body}</body>
</html>
"""


def slug(text: str) -> str:
    """The anchor of a heading, as GitHub makes it: ``MppSiteOffline`` -> ``mppsiteoffline``."""
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def to_html(markdown: str) -> str:
    """The runbook page for this Markdown."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown)
    title = "Runbook"
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            text = tokens[i + 1].content
            token.attrSet("id", slug(text))
            if token.tag == "h1" and title == "Runbook":
                title = text
    body = md.renderer.render(tokens, md.options, {})
    return PAGE.format(source=SOURCE, title=html.escape(title), body=body)


def render() -> dict[str, str]:
    """The generated file (repo-relative path -> text), for tools/generate.py."""
    return {OUT: to_html((ROOT / SOURCE).read_text(encoding="utf-8"))}

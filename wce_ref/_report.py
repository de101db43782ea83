"""A tiny report document rendered to both Markdown and standalone HTML (tables, images, notes).

The speed and comparison reports build one :class:`Document` and write both
files from it, so the two never disagree.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#1b1f24;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.88em}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
th{background:#f6f8fa}
td:first-child,th:first-child,.text{text-align:left}
img{max-width:100%;height:auto;border:1px solid #d0d7de;margin:0.5em 0}
code{background:#f6f8fa;padding:0 3px}
figcaption{font-size:0.85em;color:#57606a}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
"""


def save_png(fig: Any, path: str | Path, *, dpi: int) -> None:
    """Save a matplotlib figure as a PNG whose bytes depend on the picture alone.

    Matplotlib writes its version into every PNG (the ``Software`` text chunk); left out, a report
    re-rendered from the same data under another matplotlib release gives the same bytes. The colours are
    reduced to a 256-colour palette without dithering, which halves the file for the same picture.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : str or Path
        The ``.png`` file to write.
    dpi : int
        Resolution in dots per inch.
    """
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png", metadata={"Software": None})
    buf.seek(0)
    with Image.open(buf) as img:  # a 256-colour palette (the plots use a few dozen) and Pillow's optimiser
        img.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)


def _frame_cell(value: Any, floatfmt: str) -> str:
    """A table cell: a float formatted, a dash where it is missing (NaN), never a literal ``nan``.

    >>> _frame_cell(float("nan"), "{:.2f}"), _frame_cell(1.234, "{:.2f}"), _frame_cell("x", "{:.2f}")
    ('-', '1.23', 'x')
    """
    if isinstance(value, float):
        return "-" if value != value else floatfmt.format(value)
    return str(value)


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def safe_href(url: str) -> bool:
    """True for an http(s) URL or a relative link; anything else (``javascript:``, ``data:``, ...) is no link.

    Control characters and whitespace disqualify a URL (browsers drop them, so
    ``java\tscript:`` would be a ``javascript:`` link), and so does ``//host``.
    """
    if not url or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return False
    if re.match(r"(?i)https?://", url):
        return True
    return not url.startswith(("//", "\\")) and not _SCHEME.match(url) and "\\" not in url


def _link(match: re.Match) -> str:
    text, url = match.group(1), match.group(2)
    if safe_href(html.unescape(url)):
        return f'<a href="{url}">{text}</a>'
    return match.group(0)  # shown as the (escaped) Markdown it was written as


def _inline_html(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    text = re.sub(r"\[(.+?)\]\((.+?)\)", _link, text)
    return text


_TAG = re.compile(r"(<[^>]*>)")
#: a table cell that reads as a number (aligned right): ``1.23``, ``-``, ``5.6e-22``, ``1.50x``, ``12%``, ``3 ms``
_NUMERIC = re.compile(r"^[-+]?(\d[\d,]*(\.\d+)?(e[-+]?\d+)?|\.\d+)?\s*(x|%|ms|s|MiB|GB/s)?$")


def _breakable(markup: str) -> str:
    """Let a browser wrap long identifiers (``balanced_accuracy@tuned``) after ``_`` and before ``@`` in the text of
    ``markup`` (its tags untouched), so a wide table fits the page instead of scrolling it sideways.

    >>> _breakable('<code>a_b</code>@tuned')
    '<code>a_<wbr>b</code><wbr>@tuned'
    """
    parts = _TAG.split(markup)
    for i in range(0, len(parts), 2):  # the text between the tags
        parts[i] = re.sub(r"(?<=\w)_(?=\w)", "_<wbr>", parts[i]).replace("@", "<wbr>@")
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    """A table: numbers aligned right, text (a finding, an implementation's name) aligned left, and a column's
    header aligned like its cells (left where any of them is text).

    >>> print(_html_table(["a", "b"], [["x_y", "1.5x"]]))
    <table><thead><tr><th class="text">a</th><th>b</th></tr></thead><tbody>
    <tr><td class="text">x_<wbr>y</td><td>1.5x</td></tr>
    </tbody></table>
    """
    numeric = [[bool(_NUMERIC.match(c.strip())) for c in r] for r in rows]
    text_columns = {j for r in numeric for j, is_number in enumerate(r) if not is_number}

    def cell(tag: str, value: str, text: bool) -> str:
        attr = ' class="text"' if text else ""
        return f"<{tag}{attr}>{_breakable(_inline_html(value))}</{tag}>"

    head = "".join(cell("th", h, j in text_columns) for j, h in enumerate(header))
    body = ["<tr>" + "".join(cell("td", c, not n) for c, n in zip(r, num, strict=True)) + "</tr>"
            for r, num in zip(rows, numeric, strict=True)]  # fmt: skip
    return "\n".join([f"<table><thead><tr>{head}</tr></thead><tbody>", *body, "</tbody></table>"])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.4g}"
    return str(v)


@dataclass
class Document:
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2, *, anchor: str | None = None) -> Document:
        """A section heading; ``anchor`` gives it an HTML ``id`` (``answer``: the report's answer, which the browser
        tests require within the first screen)."""
        if anchor is not None and not re.fullmatch(r"[a-z][a-z0-9-]*", anchor):
            raise ValueError(f"anchor: lower-case letters, digits and '-' are expected, got {anchor!r}")
        self.blocks.append(("heading", (level, text, anchor)))
        return self

    def para(self, text: str) -> Document:
        self.blocks.append(("para", text))
        return self

    def bullets(self, items: list[str]) -> Document:
        self.blocks.append(("bullets", list(items)))
        return self

    def table(self, header: list[str], rows: list[list[Any]]) -> Document:
        self.blocks.append(("table", (list(header), [[_cell(v) for v in r] for r in rows])))
        return self

    def frame(self, df, *, index: bool = True, floatfmt: str = "{:.3f}") -> Document:
        """A pandas DataFrame as a table (index as the first column)."""
        header = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
        rows = []
        for idx, row in df.iterrows():
            vals = [_frame_cell(v, floatfmt) for v in row.tolist()]
            rows.append(([str(idx)] if index else []) + vals)
        self.blocks.append(("table", (header, rows)))
        return self

    def image(self, path: str, caption: str) -> Document:
        self.blocks.append(("image", (path, caption)))
        return self

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                out += [f"{'#' * value[0]} {value[1]}", ""]  # the anchor is HTML's
            elif kind == "para":
                out += [value, ""]
            elif kind == "bullets":
                out += [f"- {v}" for v in value] + [""]
            elif kind == "table":
                out += [markdown_table(*value), ""]
            elif kind == "image":
                out += [f"![{value[1]}]({value[0]})", ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self) -> str:
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        for kind, value in self.blocks:
            if kind == "heading":
                level, text, anchor = value
                ident = f' id="{anchor}"' if anchor else ""
                out.append(f"<h{level}{ident}>{_inline_html(text)}</h{level}>")
            elif kind == "para":
                out.append(f"<p>{_inline_html(value)}</p>")
            elif kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_inline_html(v)}</li>" for v in value) + "</ul>")
            elif kind == "table":
                out.append(_html_table(*value))
            elif kind == "image":
                path, caption = value
                out.append(
                    f'<figure><img src="{html.escape(path)}" alt="{html.escape(caption)}">'
                    f"<figcaption>{_inline_html(caption)}</figcaption></figure>"
                )
        out.append("</body></html>")
        return "\n".join(out) + "\n"

    def write(self, md_path: Path) -> tuple[Path, Path]:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(self.markdown())
        html_path = md_path.with_suffix(".html")
        html_path.write_text(self.html())
        return md_path, html_path

"""The building blocks of the manager's pages (`plan --format html`, `report --format html`):
the page frame and its style, sections, tables, and charts drawn from Vega-Lite specs
(Altair) to inline SVG by vl-convert when the page is made — one self-contained file that
opens offline (a laptop, WeCom's built-in browser), nothing fetched.

Both pages aggregate before they draw; the helpers here cap what grows with the data
(TOP_ACCOUNTS accounts per chart, ROWS table rows) and say how much was left out.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from playbook.i18n import language, t

TOP_ACCOUNTS = 40  # accounts drawn in a per-account chart (the busiest)
ROWS = 200  # rows of a table (the rest counted)
FONT = "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
SLA_RESULTS = ("met", "late", "missed")  # a service level's results, coloured as below on both pages
SLA_COLOURS = ["#4c9a2a", "#e0a100", "#c0392b"]


class MissingCharts(Exception):
    """Altair or vl-convert is not installed (the optional extra `html`)."""


class Charts:
    """Altair, and vl-convert to draw its charts as inline SVG; MissingCharts without them."""

    def __init__(self) -> None:
        try:
            import altair as alt
            import vl_convert as vlc
        except ImportError as exc:
            raise MissingCharts(str(exc)) from exc
        alt.data_transformers.disable_max_rows()
        self.alt = alt
        self._vlc = vlc

    def chart(self, rows: list[dict[str, Any]]) -> Any:
        """An Altair chart over `rows` (inline values: the page carries no data file)."""
        return self.alt.Chart(self.alt.Data(values=rows))

    def svg(self, chart: Any) -> str:
        """The chart drawn, in the pages' font, as an inline SVG block (no URL may be loaded)."""
        chart = chart.configure(font=FONT).configure_view(strokeWidth=0)
        svg = self._vlc.vegalite_to_svg(chart.to_dict(), allowed_base_urls=[])
        return f'<div class="chart">{svg}</div>'

    def sla_color(self) -> Any:
        """The colour of a met / late / missed mark (its `result`: the word in the page's language)."""
        domain = [t(result) for result in SLA_RESULTS]
        return self.alt.Color("result:N", title=t("result"), scale=self.alt.Scale(domain=domain, range=SLA_COLOURS))


def table(head: list[str], rows: list[list[Any]]) -> str:
    """An HTML table; every cell is text (escaped)."""
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def capped_table(head: list[str], rows: list[list[Any]]) -> str:
    """The first ROWS rows as a table, and a count of the rest."""
    rest = len(rows) - ROWS
    more = f"<p>{html.escape(t('and {n} more', n=rest))}</p>" if rest > 0 else ""
    return table(head, rows[:ROWS]) + more


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def note(text: str) -> str:
    """A definition or a caveat under a chart."""
    return f"<p class='note'>{html.escape(text)}</p>"


def section(name: str, body: str) -> str:
    return f"<section><h2>{html.escape(name)}</h2>{body}</section>"


def page(title: str, subtitle: str, sections: list[str]) -> str:
    """The whole file: titled `title`, `subtitle` under it, in the current language."""
    lang = "zh-CN" if language() == "zh" else "en"
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='version'>{html.escape(subtitle)}</p>"
        + "".join(sections)
        + "</body></html>\n"
    )


def top_accounts(cells: Counter[tuple[str, str]] | dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """The cells (account, x) of the TOP_ACCOUNTS accounts with the largest single cell:
    the busiest staff; a chart of a thousand accounts is not read."""
    peak: Counter[str] = Counter()
    for (account, _), n in cells.items():
        peak[account] = max(peak[account], n)
    keep = {a for a, _ in peak.most_common(TOP_ACCOUNTS)}
    return {k: n for k, n in cells.items() if k[0] in keep}


def rest_note(cells: Any, shown: dict[tuple[str, str], int]) -> str:
    """How many accounts `top_accounts` left out of a chart ("" when none)."""
    rest = len({a for a, _ in cells}) - len({a for a, _ in shown})
    if rest <= 0:
        return ""
    return paragraph(t("the {top} busiest accounts shown; {n} more", top=TOP_ACCOUNTS, n=rest))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


STYLE = (
    "body{font-family:'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "section{margin-bottom:2em}.version{color:#888}.named{word-break:break-all}.chart svg{max-width:100%;height:auto}"
    ".note{color:#555;font-size:.9em;max-width:60em}"
)


def sla_per_staff(charts: Charts, levels: dict[str, dict[str, dict[str, int]]]) -> str:
    """Met / late / missed per staff account over every service level, as a chart of the
    busiest accounts ("" when there is nothing): `levels` is the plan's `service_levels` and
    the report's `service_levels_by_account` (per SLA, per account, per result)."""
    cells: Counter[tuple[str, str]] = Counter()
    for accounts in levels.values():
        for account, outcomes in accounts.items():
            for outcome, n in outcomes.items():
                if n:
                    cells[(account or "—", outcome)] += n
    if not cells:
        return ""
    alt = charts.alt
    top = top_accounts(cells)
    data = [{"account": a, "result": t(r), "n": n} for (a, r), n in sorted(top.items())]
    chart = charts.chart(data).mark_bar().encode(
        y=alt.Y("account:N", title=t("account")), x=alt.X("sum(n):Q", title=t("service levels")),
        color=charts.sla_color(),
    ).properties(width=480, title=t("Service levels per staff (met / late / missed)"))  # fmt: skip
    return charts.svg(chart) + rest_note(cells, top)

"""The payout analysis report (seed 001 §6) in the console: a table, a bar chart drawn as
inline SVG on the server, the CSV export (UTF-8 with a BOM, so that Excel reads Chinese) and a
per-item export: every payout applied in the report's days."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web

from core.errors import DomainError
from core.payouts.report import ReportQuery
from core.usecases.payouts.views import report_csv, report_view, spreadsheet_cell
from gateway.console.auth import page, render
from gateway.console.i18n import error_key
from gateway.console.lists import ops_list
from gateway.keys import CONTAINER

BOM = "\ufeff"
ITEM_COLUMNS = (
    "id", "serial_no", "app_id", "source_platform", "status", "amount", "currency", "payee_name",
    "payee_account", "type_name", "pay_method", "created_at",
)  # fmt: skip
BAR_WIDTH, CHART_HEIGHT = 48, 180


def _query(request: web.Request) -> ReportQuery:
    q = {k: v for k, v in request.query.items() if v != ""}
    return ReportQuery.parse(q.get("from"), q.get("to"), q.get("group_by"), q.get("app_id"))


def chart(groups: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
    """Bars of each group's amount, scaled to the largest, with their labels."""
    top = max((Decimal(g["amount"]) for g in groups), default=Decimal(0)) or Decimal(1)
    bars = []
    for n, g in enumerate(groups):
        height = int(Decimal(g["amount"]) / top * CHART_HEIGHT)
        label = " / ".join(str(g.get(c, "")) for c in columns)
        bars.append(
            {
                "x": 10 + n * (BAR_WIDTH + 12),
                "y": CHART_HEIGHT - height + 20,
                "h": height,
                **g,
                "label": label,
            }
        )
    return {
        "bars": bars,
        "width": 20 + len(groups) * (BAR_WIDTH + 12),
        "height": CHART_HEIGHT + 60,
        "bar": BAR_WIDTH,
    }


def _csv_response(text: str, filename: str) -> web.Response:
    return web.Response(
        body=(BOM + text).encode("utf-8"),
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@page("/ops/reports/payouts")
async def report_page(request: web.Request) -> web.StreamResponse:
    """The report; a query it refuses is said above the form, kept as filled in."""
    try:
        report = report_view(await request.app[CONTAINER].payout_queries().report(_query(request)))
    except DomainError as exc:
        asked = request.query
        report = {"from": asked.get("from"), "to": asked.get("to"), "groups": [], "totals": [],
                  "group_by": [c for c in asked.get("group_by", "").split(",") if c]}  # fmt: skip
        problem = {"message": error_key(exc.code, exc.http_status), "detail": exc.message}
        return render(request, "report.html", _context(request, report, problem), status=exc.http_status)
    return render(request, "report.html", _context(request, report, None))


def _context(request: web.Request, report: dict[str, Any], problem: dict[str, str] | None) -> dict[str, Any]:
    columns = report["group_by"]
    return {"report": report, "columns": columns, "chart": chart(report["groups"], columns),
            "query_string": request.query_string, "problem": problem}  # fmt: skip


@page("/ops/reports/payouts")
async def report_export(request: web.Request) -> web.StreamResponse:
    report = await request.app[CONTAINER].payout_queries().report(_query(request))
    return _csv_response(report_csv(report), "payout-report.csv")


def _window(query: ReportQuery) -> dict[str, str]:
    window = {}
    if query.start:
        window["created_from"] = datetime.combine(query.start, time(), UTC).isoformat()
    if query.end and query.end < date.max:  # to the last day a date holds: no end
        window["created_to"] = datetime.combine(query.end + timedelta(days=1), time(), UTC).isoformat()
    if query.app_id:
        window["app_id"] = query.app_id
    return window


@page("/ops/payouts")
async def report_items(request: web.Request) -> web.StreamResponse:
    """Every payout of the report's days (and app), one row each, read page by page."""
    base = {**_window(_query(request)), "limit": "100"}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ITEM_COLUMNS)
    after: str | None = None
    while True:
        answer = await ops_list(request, "payouts", {**base, **({"starting_after": after} if after else {})})
        for item in answer["data"]:
            writer.writerow([spreadsheet_cell(item.get(c)) for c in ITEM_COLUMNS])
        if not answer["has_more"] or not answer["data"]:
            break
        after = answer["data"][-1]["id"]
    return _csv_response(out.getvalue(), "payout-items.csv")

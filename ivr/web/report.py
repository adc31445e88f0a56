"""The supervisor's report and staffing pages.

`GET /supervisor/report?from=&to=&queue=&interval=&hours=` shows the period's report: the same
`ivr.reports` report `hotline report` makes (roll-up refreshed, then read), its HTML body and
charts from `ivr.reports.render.html_sections`, with download links
(`/supervisor/report/download?format=csv|json|html&...`, what `hotline report --format` writes).
`GET /supervisor/staffing` has the what-if form (entered figures: Erlang C beside Erlang A, as
`hotline staffing --calls`) and the peak plan (agents per interval of a March–April day from
the chosen year's trail, as `hotline staffing --from --to`). The forms are GET forms (they
change nothing, so no CSRF token); a bad field is a 400 page with the field's error, never a
500. Supervisors and admins only: the abandoned calls' list carries callers' numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, ReportsConfig
from ivr.domain import TOKYO
from ivr.reports.builder import PlanRow, make_plan, make_report, spec_for, target_of
from ivr.reports.contacts import OpeningHours
from ivr.reports.queries import INTERVALS, Report
from ivr.reports.render import FORMATS, html_sections, report_title
from ivr.reports.render import render as render_report
from ivr.reports.staffing import FORMULAS as STAFFING_FORMULAS
from ivr.reports.staffing import Interval, Staffing, side_by_side
from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.context import Clock
from ivr.web.i18n import language_of, translator
from ivr.web.render import render
from ivr.web.report_forms import (
    HOURS,
    NAMES_REPORT,
    PLAN_MINUTES,
    Parsed,
    PeakChoice,
    ReportChoice,
    parse_peak,
    parse_report,
    parse_what_if,
)
from ivr.web.report_texts import TEXTS as REPORT_TEXTS
from routing.hours import call_hours, report_calendar

MEDIA = {"csv": "text/csv", "json": "application/json", "html": "text/html"}


class Reports:
    """What the pages need: the configuration, the database, the clock and the opening hours
    by queue (`routing.hours.call_hours`: within / outside opening hours)."""

    def __init__(self, config: AppConfig, db: AsyncEngine, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.hours: OpeningHours = call_hours(config.routing, config.reports.calendar)

    @property
    def queues(self) -> list[str]:
        return sorted(self.config.routing.queues)


REPORTS = web.AppKey("reports", Reports)


def _errors(parsed: Parsed, lang: str) -> dict[str, str]:
    r = translator(lang, REPORT_TEXTS)
    return {k: r(f"err_{v}") for k, v in parsed.errors.items()}


def _base(request: web.Request) -> dict[str, Any]:
    reports = request.app[REPORTS]
    return {
        "r": translator(language_of(request), REPORT_TEXTS),
        "queues": reports.queues,
        "intervals": INTERVALS,
        "hours_choices": HOURS,
        "plan_minutes": PLAN_MINUTES,
    }


async def report_page(request: web.Request) -> web.StreamResponse:
    reports = request.app[REPORTS]
    query = request.rel_url.query
    context = _base(request)
    today = reports.clock().astimezone(TOKYO).date()
    defaults = {"from": today.replace(day=1).isoformat(), "to": today.isoformat()}
    if not any(name in query for name in NAMES_REPORT):
        values = {**defaults, "interval": "day", "hours": "all"}
        return render(request, "report.html", {**context, "values": values, "errors": {}})
    parsed, choice = parse_report(query, reports.queues)
    context.update(values=parsed.values, errors=_errors(parsed, language_of(request)))
    if parsed.errors:
        return render(request, "report.html", context, status=400)
    report = await _report(reports, choice)
    context.update(
        report_title=report_title(report),
        report_body=Markup(html_sections(report)),  # noqa: S704 (escaped by ivr.reports.render)
        downloads={
            fmt: "/supervisor/report/download?" + urlencode({**parsed.values, "format": fmt})
            for fmt in FORMATS
        },
    )
    return render(request, "report.html", context)


async def _report(reports: Reports, choice: ReportChoice) -> Report:
    cfg = reports.config.reports
    spec = spec_for(
        cfg,
        choice.first,
        choice.last,
        interval=choice.interval,
        queue=choice.queue,
        hours=choice.hours,
    )
    return await make_report(reports.db, cfg, spec, reports.hours, reports.clock())


async def report_download(request: web.Request) -> web.StreamResponse:
    reports = request.app[REPORTS]
    query = request.rel_url.query
    fmt = query.get("format", "")
    parsed, choice = parse_report(query, reports.queues)
    problems = dict(_errors(parsed, language_of(request)))
    if fmt not in FORMATS:
        problems["format"] = translator(language_of(request), REPORT_TEXTS)("err_bad_choice")
    if problems:
        text = "\n".join(f"{k}: {v}" for k, v in problems.items())
        return web.Response(status=400, text=text + "\n", content_type="text/plain")
    report = await _report(reports, choice)
    name = f"hotline-report-{choice.first.isoformat()}-{choice.last.isoformat()}.{fmt}"
    return web.Response(
        text=render_report(report, fmt),
        content_type=MEDIA[fmt],
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def staffing_page(request: web.Request) -> web.StreamResponse:
    reports = request.app[REPORTS]
    query = request.rel_url.query
    lang = language_of(request)
    cfg = reports.config.reports
    today = reports.clock().astimezone(TOKYO).date()
    context = _base(request)
    what_if: dict[str, str] = {
        "calls": "",
        "minutes": "30",
        "aht": "",
        "target": f"{100 * cfg.target_service_level:g}",
        "answer_s": f"{cfg.answer_s:g}",
        "shrinkage": f"{100 * cfg.shrinkage:g}",
        "patience": "",
    }
    peak_values = {"year": str(today.year - 1), "plan_minutes": "60", "plan_queue": ""}
    context.update(what_if_errors={}, peak_errors={}, result=None, plan=None, plan_period=None)
    ok = True
    if "calls" in query:
        parsed, result = _what_if(query, cfg)
        what_if.update(parsed.values)
        context.update(what_if_errors=_errors(parsed, lang), result=result)
        ok = result is not None
    if "year" in query:
        parsed_peak, peak = parse_peak(query, reports.queues, today)
        peak_values.update(parsed_peak.values)
        context["peak_errors"] = _errors(parsed_peak, lang)
        if peak is None:
            ok = False
        else:
            context.update(
                plan=await _peak_plan(reports, peak),
                plan_period=(peak.first.isoformat(), peak.last.isoformat()),
            )
    context.update(
        what_if=what_if,
        peak_values=peak_values,
        target=target_of(cfg),
        formulas=STAFFING_FORMULAS,
    )
    return render(request, "staffing.html", context, status=200 if ok else 400)


def _what_if(
    query: Mapping[str, str], cfg: ReportsConfig
) -> tuple[Parsed, tuple[Interval, Staffing, Staffing | None] | None]:
    parsed, entered = parse_what_if(query)
    if entered is None:
        return parsed, None
    interval = Interval(entered.calls, entered.minutes * 60, entered.aht_s, entered.patience_s)
    target = target_of(
        cfg, service_level=entered.target, answer_s=entered.answer_s, shrinkage=entered.shrinkage
    )
    return parsed, (interval, *side_by_side(interval, target))


async def _peak_plan(reports: Reports, peak: PeakChoice) -> list[PlanRow]:
    cfg = reports.config.reports
    spec = spec_for(cfg, peak.first, peak.last, queue=peak.queue)
    return await make_plan(
        reports.db,
        cfg,
        spec,
        reports.hours,
        reports.clock(),
        minutes=peak.minutes,
        target=target_of(cfg),
        open_minutes=report_calendar(reports.config.routing, cfg.calendar, peak.queue).open_minutes,
    )


def setup(app: web.Application, config: AppConfig, db: AsyncEngine, clock: Clock) -> None:
    app[REPORTS] = Reports(config, db, clock)
    add_route(app, "GET", "/supervisor/report", report_page, Role.SUPERVISOR, name="report")
    add_route(
        app,
        "GET",
        "/supervisor/report/download",
        report_download,
        Role.SUPERVISOR,
        name="report_download",
    )
    add_route(app, "GET", "/supervisor/staffing", staffing_page, Role.SUPERVISOR, name="staffing")

"""A `Report` as JSON, CSV or one self-contained HTML page (inline CSS and SVG charts, no
script, nothing fetched). The formulas are printed with the figures. The list of abandoned
calls carries callers' numbers (for calling them back): supervisor-only data, marked so on the
page; `callers=False` leaves the numbers out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date, timedelta
from html import escape
from typing import Any

from ivr.reports import charts
from ivr.reports.metrics import FORMULAS, LEGEND, SERVICE_LEVELS, QueueFigures
from ivr.reports.queries import TOTAL, CallFigures, Report

FORMATS = ("csv", "html", "json")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def queue_row(f: QueueFigures, headline: str) -> dict[str, Any]:
    """One interval × queue line of figures, as numbers (rates 0–1, seconds)."""
    levels = f.service_levels()
    return {
        "queued": f.queued,
        "short_abandons": f.short_abandons,
        "offered": f.offered,
        "answered": f.answered,
        "answered_within": f.answered_within,
        "abandoned": f.abandoned,
        "abandoned_within": f.abandoned_within,
        "callbacks": f.callbacks,
        "overflows": f.overflows,
        "closed": f.closed,
        "service_level": levels[headline],
        **{f"sl_{k}": v for k, v in levels.items()},
        "abandon_rate": f.abandon_rate,
        "abandon_rate_with_short": f.abandon_rate_with_short,
        "asa_s": f.asa_s,
        "aht_s": f.aht_s,
        "talk_s": f.talk_s,
        "hold_s": f.hold_s,
        "wrap_s": f.wrap_s,
        "longest_wait_s": f.longest_wait_s,
    }


def to_json(report: Report, *, callers: bool = True) -> str:
    return json.dumps(_data(report, callers), ensure_ascii=False, indent=2) + "\n"


def _data(report: Report, callers: bool) -> dict[str, Any]:
    spec = report.spec
    headline = spec.headline
    return {
        "period": {"from": spec.first.isoformat(), "to": spec.last.isoformat()},
        "interval": spec.interval,
        "queue": spec.queue,
        "hours": spec.hours,
        "answer_s": spec.answer_s,
        "short_abandon_s": spec.short_abandon_s,
        "headline_service_level": headline,
        "generated_at": report.generated_at.isoformat(),
        "formulas": {
            **{f"sl_{v.key}": f"{v.label}: {v.formula}" for v in SERVICE_LEVELS},
            **dict(FORMULAS),
        },
        "total": queue_row(report.total, headline),
        "total_by_opening_hours": {
            ("in" if within else "out"): queue_row(f, headline)
            for within, f in sorted(report.opening.items(), reverse=True)
        },
        "queues": {q: queue_row(f, headline) for q, f in report.queues.items()},
        "intervals": [
            {"interval": label, "queue": q, **queue_row(f, headline)}
            for (label, q), f in report.intervals.items()
        ],
        "calls": _slots(report.calls),
        "calls_by_interval": {k: _slots(v) for k, v in report.call_intervals.items()},
        "calls_by_queue": {k: _slots(v) for k, v in report.queue_calls.items()},
        "self_service_rate": report.self_service_rate,
        # intervals without a request by phone have none (null)
        "self_service_rate_by_interval": report.interval_self_service,
        "departments": {
            d: {"attempted": n, "put_through": ok} for d, (n, ok) in report.departments.items()
        },
        "outcomes": report.outcomes,
        "wrap_up_reasons": report.wrap_reasons,
        "request_kinds": [
            {"kind": k, "channel": ch, "requests": n} for (k, ch), n in report.request_kinds.items()
        ],
        "request_kinds_by_interval": [
            {"interval": label, "kind": k, "channel": ch, "requests": n}
            for label, kinds in report.interval_requests.items()
            for (k, ch), n in kinds.items()
        ],
        "complaints_and_requests": [
            {"kind": k, "department": d, "cases": n} for (k, d), n in report.cases.items()
        ],
        "repeats": {
            "identified": report.repeats.identified,
            "repeats": report.repeats.repeats,
            "accounts": report.repeats.accounts,
            "rate": report.repeats.rate,
            "repeat_accounts": report.repeats.repeat_accounts,
            "followed": report.repeats.followed,
            "first_contact_resolution": report.repeats.first_contact_resolution,
            "window_days": spec.repeat_days,
        },
        "abandoned_calls": [
            {
                "at": a.at.isoformat(),
                "queue": a.queue,
                "wait_s": a.wait_s,
                "short": a.short,
                **({"caller": a.caller} if callers else {}),
                "reached_since": a.reached_since,
            }
            for a in report.abandons
        ],
        "abandoned_calls_not_listed": report.abandons_not_listed,
        "agents": {
            login: {
                "handled": a.handled,
                "aht_s": a.aht_s,
                "talk_s": a.talk_s,
                "hold_s": a.hold_s,
                "wrap_s": a.wrap_s,
                "time_s": a.state_s,
            }
            for login, a in report.agents.items()
        },
    }


def interval_labels(report: Report) -> list[str]:
    """The intervals with calls or requests, in order (labels of one interval length sort as
    text)."""
    return sorted({*report.call_intervals, *report.interval_requests})


def _slots(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def to_csv(report: Report, *, callers: bool = True) -> str:
    """The interval table, then one block per other table, each with a title line."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    data = _data(report, callers)
    _block(w, "intervals", data["intervals"])
    rates = data["self_service_rate_by_interval"]
    _block(
        w,
        "calls",
        [
            {
                "interval": label,
                **data["calls_by_interval"].get(label, _slots(CallFigures())),
                "self_service_rate": rates.get(label),
            }
            for label in interval_labels(report)
        ],
    )
    _block(w, "calls by queue", [{"queue": k, **v} for k, v in data["calls_by_queue"].items()])
    _block(
        w,
        "service levels by queue",
        [
            {"queue": q, **{f"sl_{k}": v for k, v in f.service_levels().items()}}
            for q, f in [*report.queues.items(), ("total", report.total)]
        ],
    )
    _block(w, "abandoned calls", data["abandoned_calls"])
    agents = [
        {"agent": login, **{k: v for k, v in a.items() if k != "time_s"}, **a["time_s"]}
        for login, a in data["agents"].items()
    ]
    _block(w, "agents", agents)
    _block(w, "request kinds", data["request_kinds"])
    _block(w, "request kinds by interval", data["request_kinds_by_interval"])
    _block(
        w,
        "totals by opening hours",
        [{"hours": k, **v} for k, v in data["total_by_opening_hours"].items()],
    )
    repeats = data["repeats"]
    _block(
        w,
        "contacts",
        [
            {"figure": "self_service_rate", "value": data["self_service_rate"]},
            *({"figure": f"repeats_{k}", "value": v} for k, v in repeats.items()),
        ],
    )
    _block(w, "reason codes", [{"reason_code": k, "calls": n} for k, n in data["outcomes"].items()])
    _block(
        w,
        "wrap-up reasons",
        [{"wrap_up_reason": k, "calls": n} for k, n in data["wrap_up_reasons"].items()],
    )
    _block(w, "complaints and requests", data["complaints_and_requests"])
    _block(
        w,
        "departments",
        [{"department": d, **v} for d, v in data["departments"].items()],
    )
    _block(w, "formulas", [{"figure": k, "formula": v} for k, v in data["formulas"].items()])
    return out.getvalue()


def _block(w: Any, title: str, rows: list[dict[str, Any]]) -> None:
    w.writerow([f"# {title}"])
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if row.get(k) is None else row.get(k) for k in columns])
    w.writerow([])


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:sans-serif;margin:2em;color:#2d3748;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #cbd5e0}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em}
td,th{border:1px solid #cbd5e0;padding:.2em .5em;text-align:right}
th{background:#edf2f7}td.l,th.l{text-align:left}
.headline{font-size:2em;font-weight:bold}.kpis td{font-size:1.05em}
.formula{font-family:monospace}.supervisor{border:2px solid #c53030;padding:.5em 1em}
.supervisor .mark{color:#c53030;font-weight:bold}.note{color:#718096;font-size:.85em}
"""


def _table(head: list[str], rows: Iterable[list[Any]], cls: str = "") -> str:
    first = "".join(f'<th class="l">{escape(head[0])}</th>' if head else "")
    th = first + "".join(f"<th>{escape(h)}</th>" for h in head[1:])
    body = []
    for row in rows:
        cells = [f'<td class="l">{escape(str(row[0]))}</td>'] + [
            f"<td>{escape(str(v))}</td>" for v in row[1:]
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    klass = f' class="{cls}"' if cls else ""
    return f"<table{klass}><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_QUEUE_HEAD = [
    "",
    "offered",
    "answered",
    "≤ T",
    "abandoned",
    "short",
    "callbacks",
    "SL",
    "ASA s",
    "AHT s",
    "longest s",
    "abandon %",
]


def _queue_cells(name: str, f: QueueFigures, headline: str) -> list[Any]:
    return [
        name,
        f.offered,
        f.answered,
        f.answered_within,
        f.abandoned,
        f.short_abandons,
        f.callbacks,
        _pct(f.service_levels()[headline]),
        _secs(f.asa_s),
        _secs(f.aht_s),
        _secs(f.longest_wait_s),
        _pct(f.abandon_rate),
    ]


def report_title(report: Report) -> str:
    spec = report.spec
    return f"Hotline report {spec.first.isoformat()} – {spec.last.isoformat()}"


def to_html(report: Report, *, callers: bool = True) -> str:
    title = report_title(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        html_sections(report, callers=callers),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def html_sections(report: Report, *, callers: bool = True) -> str:
    """The report's body (figures, charts, tables, formulas) without page, title or styles:
    the report file's and the console's report page's (which has its own style sheet)."""
    headline = next(v for v in SERVICE_LEVELS if v.key == report.spec.headline)
    parts = [
        _summary(report, headline.label),
        _charts(report),
        _service_levels(report),
        _intervals(report),
        _calls(report),
        _classification(report),
        _abandons(report, callers),
        _agents(report),
        _formulas(report),
    ]
    return "\n".join(parts)


def _summary(report: Report, headline_label: str) -> str:
    spec, total = report.spec, report.total
    sl = total.service_levels()[spec.headline]
    scope = f"queue {spec.queue}" if spec.queue else "all queues"
    hours = {"all": "all hours", "in": "within opening hours", "out": "outside opening hours"}
    rows = [_queue_cells(q, f, spec.headline) for q, f in report.queues.items()]
    rows.append(_queue_cells("total", total, spec.headline))
    if spec.hours == "all":
        # the total split by the opening-hours calendar the calls were counted by
        for within in (True, False):
            if within in report.opening:
                name = "within opening hours" if within else "outside opening hours"
                rows.append(_queue_cells(f"total {name}", report.opening[within], spec.headline))
    # these are not the queue's own: say so rather than let them pass for the one queue's
    one_queue = (
        '<p class="note" id="one-queue-note">Agents\' time ready / paused and the request '
        "kinds are of all queues (an agent serves several, a request has no queue).</p>"
        if spec.queue
        else ""
    )
    return (
        f'<p class="note">{escape(scope)}, {hours[spec.hours]}; Tokyo time; intervals: '
        f"{escape(spec.interval)}; answer threshold T = {spec.answer_s:g} s; short abandons "
        f"under {spec.short_abandon_s:g} s reported apart; made "
        f"{escape(report.generated_at.isoformat(timespec='seconds'))}</p>{one_queue}"
        f'<p>Service level ({escape(headline_label)}): <span class="headline">{_pct(sl) or "–"}'
        f"</span></p>{_table(_QUEUE_HEAD, rows, 'kpis')}"
    )


def _charts(report: Report) -> str:
    hours = list(range(24))
    offered = [report.by_hour[h].offered if h in report.by_hour else 0 for h in hours]
    levels = [
        report.by_hour[h].service_levels()[report.spec.headline] if h in report.by_hour else None
        for h in hours
    ]
    spec = report.spec
    days = period_days(spec.first, spec.last)
    per_day = [report.offered_by_day.get(d.isoformat(), 0) for d in days]
    kinds: dict[str, int] = {}
    for (kind, _), n in report.request_kinds.items():
        kinds[kind] = kinds.get(kind, 0) + n
    reasons = report.wrap_reasons or report.outcomes
    reason_title = "Wrap-up reasons" if report.wrap_reasons else "Call outcomes (reason codes)"
    return (
        "<h2>Charts</h2>"
        + _figure("chart-hourly", charts.hourly(hours, offered, levels))
        + "<h3>Offered by day</h3>"
        + _figure("chart-daily", charts.daily(days, per_day))
        + "<h3>Requests by kind</h3>"
        + _figure(
            "chart-kinds",
            charts.shares(sorted(kinds.items(), key=lambda kv: -kv[1]), "Requests by kind"),
        )
        + f"<h3>{reason_title}</h3>"
        + _figure(
            "chart-reasons",
            charts.shares(sorted(reasons.items(), key=lambda kv: -kv[1]), reason_title),
        )
    )


def _figure(name: str, svg: str) -> str:
    return f'<figure id="{name}">{svg}</figure>'


def _service_levels(report: Report) -> str:
    """Every definition side by side, for each queue and the total: the anchors count
    abandons differently, and a supervisor compares a queue by the one a partner quotes."""
    columns = [*report.queues.items(), ("total", report.total)]
    rows = []
    for v in SERVICE_LEVELS:
        mark = " (headline)" if v.key == report.spec.headline else ""
        rows.append([v.label + mark, v.formula, *(_pct(v.value(f)) for _, f in columns)])
    return (
        '<h2>Service level, the common definitions</h2><div id="service-levels">'
        + _table(["definition", "formula", *(name for name, _ in columns)], rows)
        + "</div>"
    )


def _intervals(report: Report) -> str:
    rows = [
        _queue_cells(f"{label} {q if q != TOTAL else '(all)'}", f, report.spec.headline)
        for (label, q), f in report.intervals.items()
    ]
    return "<h2>By interval</h2>" + _table(["interval, queue", *_QUEUE_HEAD[1:]], rows)


_CALL_HEAD = [
    "calls",
    "within hours",
    "while closed",
    "IVR-completed",
    "transferred",
    "emergency",
    "callbacks requested",
    "dialled",
    "completed",
    "failed",
]


def _call_cells(name: str, c: CallFigures) -> list[Any]:
    return [
        name,
        c.calls,
        c.in_hours,
        c.while_closed,
        c.ivr_completed,
        c.transferred,
        c.emergency,
        c.callbacks_requested,
        c.callbacks_dialled,
        c.callbacks_completed,
        c.callbacks_failed,
    ]


def _calls(report: Report) -> str:
    c = report.calls
    rows: list[list[Any]] = [
        ["calls", c.calls],
        ["within opening hours", c.in_hours],
        ["outside opening hours", c.calls - c.in_hours],
        ["calls while closed", c.while_closed],
        ["completed in the IVR", c.ivr_completed],
        ["emergency", c.emergency],
        ["transferred to a department", c.transferred],
        ["callbacks requested", c.callbacks_requested],
        ["callbacks dialled", c.callbacks_dialled],
        ["callbacks completed", c.callbacks_completed],
        ["callbacks failed", c.callbacks_failed],
        ["self-service rate", _pct(report.self_service_rate)],
        [
            f"repeat contacts within {report.spec.repeat_days} days",
            f"{report.repeats.repeats} of {report.repeats.identified} "
            f"({_pct(report.repeats.rate)}), from {report.repeats.repeat_accounts} of "
            f"{report.repeats.accounts} accounts",
        ],
        [
            "first-contact resolution",
            f"{_pct(report.repeats.first_contact_resolution)} "
            f"({report.repeats.identified - report.repeats.followed} of "
            f"{report.repeats.identified} not called about again within "
            f"{report.spec.repeat_days} days)",
        ],
    ]
    departments: list[list[Any]] = [[d, n, ok] for d, (n, ok) in report.departments.items()]
    by_queue = [_call_cells(q, f) for q, f in report.queue_calls.items()]
    rates = report.interval_self_service
    by_interval = [
        [
            *_call_cells(label, report.call_intervals.get(label, CallFigures())),
            _pct(rates.get(label)),
        ]
        for label in interval_labels(report)
    ]
    return (
        "<h2>Calls</h2>"
        + _table(["", "count"], rows)
        + '<h3>Calls by queue</h3><div id="calls-by-queue">'
        + _table(["queue", *_CALL_HEAD], by_queue)
        + '<p class="note">Calls that never reached a queue (served in the IVR, put through '
        "to a department, closed at the greeting) are in the totals above only.</p></div>"
        + '<h3>Calls by interval</h3><div id="calls-by-interval">'
        + _table(["interval", *_CALL_HEAD, "self-service"], by_interval)
        + '<p class="note">Self-service: requests taken in the IVR / requests taken by phone '
        "(IVR + agent), each in the interval of the call it was taken on.</p></div>"
        + "<h3>Transfers by department</h3>"
        + _table(["department", "attempted", "put through"], departments)
    )


def _classification(report: Report) -> str:
    kinds = [[k, ch, n] for (k, ch), n in report.request_kinds.items()]
    outcomes = sorted(report.outcomes.items(), key=lambda kv: -kv[1])
    wrap = sorted(report.wrap_reasons.items(), key=lambda kv: -kv[1])
    note = (
        ""
        if wrap
        else '<p class="note">No wrap-up reasons in the period: they appear here once the agent '
        "console records them (a <code>wrap_up</code> event with a <code>reason</code>).</p>"
    )
    return (
        "<h2>Contacts by request kind and reason</h2>"
        + _table(["request kind", "channel", "requests"], kinds)
        + _table(["call outcome (reason code)", "calls"], [list(o) for o in outcomes])
        + _table(["wrap-up reason", "calls"], [list(o) for o in wrap])
        + note
        + _table(
            ["complaint / request", "department", "cases"],
            [[k, d, n] for (k, d), n in report.cases.items()],
        )
    )


def _abandons(report: Report, callers: bool) -> str:
    head = ["time (Tokyo)", "queue", "wait s", "short"]
    if callers:
        head.append("caller (for a callback)")
    head.append("reached since")
    rows = []
    for a in report.abandons:
        row: list[Any] = [
            a.at.strftime("%Y-%m-%d %H:%M:%S"),
            a.queue,
            f"{a.wait_s:.0f}",
            "yes" if a.short else "",
        ]
        if callers:
            row.append(a.caller or "withheld")
        row.append("yes" if a.reached_since else "")
        rows.append(row)
    mark = (
        '<p class="mark">Supervisor only: callers\' phone numbers. Do not forward.</p>'
        if callers
        else ""
    )
    more = report.abandons_not_listed
    rest = (
        f'<p class="note">{more} earlier abandoned calls of the period are not listed (the '
        "newest first; reports.abandoned_list_max): make the report for a shorter period.</p>"
        if more
        else ""
    )
    reached = (
        '<p class="note">Reached since: the number called again later and was served (an '
        "agent, the IVR or a department), so no callback is needed.</p>"
    )
    return (
        f'<section class="supervisor" id="abandoned"><h2>Abandoned calls</h2>{mark}'
        f"{_table(head, rows)}{reached}{rest}</section>"
    )


def _agents(report: Report) -> str:
    states = sorted({s for a in report.agents.values() for s in a.state_s})
    head = [
        "agent",
        "handled",
        "AHT s",
        "talk s",
        "hold s",
        "wrap-up s",
        *(f"{s} s" for s in states),
    ]
    rows = [
        [
            login,
            a.handled,
            _secs(a.aht_s),
            f"{a.talk_s:.0f}",
            f"{a.hold_s:.0f}",
            f"{a.wrap_s:.0f}",
            *(f"{a.state_s.get(s, 0):.0f}" for s in states),
        ]
        for login, a in report.agents.items()
    ]
    return "<h2>Agents</h2>" + _table(head, rows)


def _formulas(report: Report) -> str:
    rows = [[name, text] for name, text in FORMULAS]
    rows += [[f"SL: {v.label}", v.formula] for v in SERVICE_LEVELS]
    return f'<h2>Formulas</h2><pre class="formula">{escape(LEGEND)}</pre>' + _table(
        ["figure", "formula"], rows
    )


def render(report: Report, fmt: str, *, callers: bool = True) -> str:
    if fmt == "json":
        return to_json(report, callers=callers)
    if fmt == "csv":
        return to_csv(report, callers=callers)
    if fmt == "html":
        return to_html(report, callers=callers)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def period_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]

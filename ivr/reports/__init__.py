"""Statistics, reports and staffing over the contact trail.

`rollup` keeps a per-call roll-up of the trail up to date (`report_contacts`, agent spans);
`queries` builds a period's report from it in SQL; `metrics` names every figure and its formula
(the service-level variants side by side); `render` writes the report as CSV, JSON or a
self-contained HTML page with `charts` (inline SVG); `staffing` is Erlang C and Erlang A;
`daily` the report file written after closing time.
"""

"""Performance indicators (效能指标) for managers: pre-aggregated by day and place,
read for any date range and scope, with roll-ups by level, rankings and trends.

* :mod:`app.kpi.aggregate`: keeps ``kpi_daily`` and ``kpi_monthly`` up to date (refresh, rebuild);
* :mod:`app.kpi.report`: reads them into a :class:`~app.kpi.report.Report` for the page, the API and the PDF;
* :mod:`app.kpi.refresher`: the web server's loop that refreshes each minute and prewarms the reports;
* :mod:`app.kpi.command`: ``supervise kpi refresh|rebuild``.

What counts as a satisfied rating is :data:`rules.ratings.SATISFIED_SCORE`.
"""

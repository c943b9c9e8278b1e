"""One self-contained HTML page of a store: findings first, then every chart, key tables,
figures and provenance.

    write_report(store, "report.html")             # the path
    build_report(store, "report.html").problems    # and what it could not show
"""

from cityq.report.page import ReportResult, build_report, write_report
from cityq.report.sections import FINDINGS, REPORT_SECTIONS, Section

__all__ = ["FINDINGS", "REPORT_SECTIONS", "ReportResult", "Section", "build_report", "write_report"]

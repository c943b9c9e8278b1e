"""One self-contained HTML page of a store: summary, every chart, key tables, provenance.

    write_report(store, "report.html")
"""

from cityq.report.page import write_report
from cityq.report.sections import REPORT_SECTIONS, Section

__all__ = ["REPORT_SECTIONS", "Section", "write_report"]

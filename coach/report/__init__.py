"""The debrief report: one self-contained HTML file per session (plots, score, coaching points).

    from coach.report import write_report
    write_report(session_id, "report.html", store=store)      # or a SessionRecord from store.load(id)

``build_report(record)`` returns the parts (score, points, figures) without writing, for tests and
other front ends. The score formula and the coaching-point rule are in docs/report.md.
"""
from coach.report.points import CoachingPoint, coaching_points
from coach.report.report import Report, build_report, save_html, write_report
from coach.report.score import Score, score_session

__all__ = ["CoachingPoint", "Report", "Score", "build_report", "coaching_points", "save_html", "score_session", "write_report"]

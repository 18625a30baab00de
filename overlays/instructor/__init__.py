"""The instructor's class page: one tile per station, a detail view, control, and the class record."""

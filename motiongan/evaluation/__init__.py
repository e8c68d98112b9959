"""Evaluation (paper section 4.2.4): metrics, one function each, and the table of a run."""

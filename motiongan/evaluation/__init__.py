"""Evaluation (paper section 4.2.4): metrics, one registered function each, and the table of a run."""

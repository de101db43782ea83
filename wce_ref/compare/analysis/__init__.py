"""The analysis: statistics over families and datasets, Bayesian comparison, the literature's checks, reports."""

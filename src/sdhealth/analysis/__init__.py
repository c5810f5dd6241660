"""Analysis of models: checks (:mod:`~sdhealth.analysis.checks`), units
(:mod:`~sdhealth.analysis.units`) and feedback loops."""

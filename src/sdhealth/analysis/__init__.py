"""Analysis of models: checks (:mod:`~sdhealth.analysis.checks`), units
(:mod:`~sdhealth.analysis.units`), feedback loops (:mod:`~sdhealth.analysis.loops`), declared
link polarities (:mod:`~sdhealth.analysis.polarity`) and loop dominance over a run
(:mod:`~sdhealth.analysis.dominance`, Loops That Matter)."""

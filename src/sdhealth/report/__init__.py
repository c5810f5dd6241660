"""Reports: plots of results (:mod:`~sdhealth.report.plots`)."""

"""Reports: plots of runs (:mod:`~sdhealth.report.plots`), of sweeps, experiments and
calibrations (:mod:`~sdhealth.report.sweep_plots`, :mod:`~sdhealth.report.experiment_plots`,
:mod:`~sdhealth.report.calibration_plots`), the summary of a run (:mod:`~sdhealth.report.summary`)
and the HTML model report (:mod:`~sdhealth.report.html_report`, ``sdhealth report``)."""

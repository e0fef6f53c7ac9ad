"""The supervision rules: pure functions of data and a given instant, no I/O, no wall clock.

- official_days: the State Council's holiday notices, as data
- calendar: WorkCalendar (working days, add_working, add_natural), a center's override
- events: Event, check_row (bad rows with readable reasons), duplicate_key, ORPHAN_HOLD
- procedure: a case's events in event-time order, and procedure anomalies
- clocks: Item, Clock, CaseJudgement, judge_case (due dates and alarm facts of a case)
- alarms: alarm kinds, AlarmFact, states, reconcile (stored alarms follow the facts)
- ratings, cameras: low_satisfaction, rectification_overdue, camera_offline

Choices where the contract is silent: rules/DECISIONS.md.
"""

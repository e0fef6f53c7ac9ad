"""Completion SMS (办结短信) and satisfaction (满意度): notice, 0–100 reply, analysis, follow-up.

Flow: a case becomes ``completed`` (ingest) → :mod:`.sender` queues ONE completion
SMS in :mod:`.outbox` (unique per case) and hands it to a :mod:`.gateway` within
sending hours (:mod:`.hours`) → the applicant replies → the provider posts it to
``POST /api/sms/inbound`` (:mod:`.routes`, :mod:`.inbound`) → :mod:`.parse` reads a
score or not → a score becomes a ``ratings`` row (source ``sms``) → ``ingest.ratings``
judges it with the on-site ratings (low_satisfaction, rectification_overdue) →
:mod:`.satisfaction` answers the KPI page and PDF.

Decisions where the brief and the contract are silent:

* Only cases completed in the last 72 h (SUPERVISE_SMS_MAX_AGE_HOURS) are surveyed,
  so turning the feature on, a backfill or a replay never texts people about old cases.
  A number that is not a mainland mobile gets its outbox row, marked failed, never sent.
* Sending hours 08:00–21:00 local (SUPERVISE_SMS_SEND_FROM/UNTIL); a message due
  outside them waits in ``queued`` until the window opens.
* Idempotency: the outbox id is the client message id (``sms-<id>``); the gateways
  de-duplicate on it, so a retry, a lost answer or a sender dying between send and
  mark never sends a second copy (see :mod:`.gateway`, :mod:`.outbox`).
* Replies: first readable score counts; an unreadable reply gets one polite question
  per case; replies later than 7 days or from numbers never texted are kept, not
  counted, not answered (see :mod:`.inbound`).
* 满意率 cut-off: score ≥ ``rules.ratings.SATISFIED_SCORE`` (80); low: < 60 (``rules.ratings``).
* Phone numbers: full only in the database and to the gateway; everywhere a person
  looks they go through :func:`.phones.mask_phone` (``138****1234``).
"""

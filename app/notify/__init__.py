"""Alarms reach the people responsible (issue 12).

* :mod:`app.notify.contacts`: who is responsible where (the ``contacts`` table);
* ``rules.routing``: the routing file and every pure decision on it (which routes and
  receivers, which group, when a group speaks, active times in a center's calendar);
* :mod:`app.notify.groups`: the alarm stream taken into groups, and groups turned into messages;
* :mod:`app.notify.outbox` and :mod:`app.notify.sender`: messages claimed with a lease and sent;
* :mod:`app.notify.receivers`: the wire formats (SMS gateway, WeCom, DingTalk, e-mail, webhook);
* :mod:`app.notify.command`: ``supervise contact``, ``supervise routes``, ``supervise notify``.
"""

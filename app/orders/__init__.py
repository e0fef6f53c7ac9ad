"""The supervision loop: orders (督办单), feedback, appeals (申诉), and who may do which.

Officers (region, city, center) issue orders within their scope and accept or return the
answers; a department's users answer only their own department's orders and appeal only
its alarms. Every step is written to ``supervision_history`` (append-only) and to the
audit log in the transaction that makes it. The clocks these steps start fire in the
ingest (ingest/orders.py); what they decide is in rules/orders.py.
"""

"""Database reads of the web app, one module per subject. Every function that
returns cases, alarms or anything tied to a place takes the user's
:class:`app.scope.Scope`, so no caller can forget it."""

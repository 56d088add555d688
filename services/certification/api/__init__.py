"""HTTP only: parse, authorise, call one ``store`` function, map to ``schemas``. ``ROUTES`` lists
every route of the service."""

from services.certification.api import admin, feed, issuing, public, webhooks

ROUTES = [*issuing.handlers, *admin.handlers, *public.handlers, *feed.handlers, *webhooks.handlers]

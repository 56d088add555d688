"""The web app's pages (HTTP only: read the form, call the client layer, render a template)."""

from services.web.api import admin, auth, instructor, learner

ROUTES = [*auth.ROUTES, *learner.ROUTES, *instructor.ROUTES, *admin.ROUTES]

"""xAPI Learning Record Store (1.0.3 and 2.0.0) under ``/xapi``.

- ``statements.py``: the Statements resource (POST, PUT, GET, HEAD; attachments; signatures).
- ``documents.py``: State, Activity Profile and Agent Profile documents.
- ``resources.py``: About, Activities, Agents.
- ``alternate.py``: the 1.0.3 alternate request syntax, rewritten before authentication.
- ``common.py``: version headers, strict parameters, agents, authority, HTTP Basic.
"""

from services.progress.api.xapi.alternate import alternate_syntax
from services.progress.api.xapi.common import basic_auth
from services.progress.api.xapi.documents import ActivityProfileController, AgentProfileController, StateController
from services.progress.api.xapi.resources import XapiResourceController
from services.progress.api.xapi.statements import StatementController

ROUTES = [
    XapiResourceController,
    StatementController,
    StateController,
    ActivityProfileController,
    AgentProfileController,
]

__all__ = ["ROUTES", "alternate_syntax", "basic_auth"]

"""Role checks inside the caller's own workspaces.

Objects of other workspaces never get here: querysets start from the caller's memberships
(``videogen.selectors``), so those answer 404. This permission answers 403 when the caller
belongs to the object's workspace with a role too low for the action: viewers read, members
(and admins) create and act on jobs, admins see budgets and usage reports.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from videogen.models import Role
from videogen.selectors import WRITER_ROLES

ALL_ROLES = frozenset(Role.values)
ADMIN_ONLY = frozenset({Role.ADMIN})


def required_roles(request, view) -> frozenset[str]:
    """The roles allowed to do this: the view's ``roles_by_action`` entry, else by method."""
    by_action = getattr(view, "roles_by_action", {}) or {}
    action = getattr(view, "action", None)
    if action in by_action:
        return frozenset(by_action[action])
    return ALL_ROLES if request.method in SAFE_METHODS else WRITER_ROLES


class HasWorkspaceRole(BasePermission):
    """Object permission from the ``caller_role`` annotation the selectors put on rows."""

    code = "role_too_low"

    def has_object_permission(self, request, view, obj) -> bool:
        role = getattr(obj, "caller_role", None)
        allowed = required_roles(request, view)
        if role in allowed:
            return True
        needed = " or ".join(sorted(str(r) for r in allowed))
        self.message = (
            f"Your role in this workspace ({role or 'none'}) does not allow this; "
            f"it needs {needed}."
        )
        return False

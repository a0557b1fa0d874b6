"""Staff run the business from the Django admin: jobs, workspaces, the ledger, webhook
deliveries, the catalog, the usage report and an overview on the admin index.

Declarative ModelAdmins; every action and custom page checks permissions and calls a
service (``videogen.services``); work that talks to the provider is enqueued, never done
inside the request. Lists over big tables never count them whole (``base.ScaledListMixin``).
"""

from videogen.admin import catalog, jobs, records, workspaces  # noqa: F401  (registration)

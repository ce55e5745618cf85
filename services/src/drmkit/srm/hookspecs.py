"""Hook specifications of the SRM (plugin manager project name ``drmkit.srm``).

Operators add entitlement checks by shipping a plugin package with an entry point in the group
``drmkit.srm``; its object implements the hooks below with ``@drmkit.srm.hookspecs.hookimpl``.
Hooks run in a worker thread, so a blocking implementation (an HTTP call to an entitlement
service) does not stall the SRM's event loop; it should still answer quickly, since setups wait
for it.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "drmkit.srm"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class SrmHookspecs:
    """The hooks an SRM plugin may implement."""

    @hookspec
    def srm_check_content_access(
        self, account: str, device: str, content_id: str, content_type: str
    ) -> bool | None:
        """Decide whether an account's device may play a content.

        Called once per session setup, after the ``Client-Token`` is verified and before the
        session store is asked for admission (a denied setup takes no slot). Every
        implementation is called (not ``firstresult``).

        :param account: the account the ``Client-Token`` belongs to.
        :param device: the device the ``Client-Token`` belongs to.
        :param content_id: ``content.contentID`` of the setup request.
        :param content_type: ``content.contentType`` of the setup request (e.g. ``COD``, ``LIVE``).
        :return: ``False`` to deny (the client gets HTTP 200 with ``errorResponse``
            ``SRM-0004``/``DENIED``), ``True`` to allow, ``None`` to abstain. Access is granted
            unless some implementation returns ``False``; the built-in default allows.
            An implementation that raises denies the setup with ``SRM-0007`` (HTTP 500) and the
            error is logged: a broken entitlement check never admits by accident.
        """
        raise NotImplementedError

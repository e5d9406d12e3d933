"""The instance's termination lifecycle: drain first, then let Auto Scaling terminate.

With a termination lifecycle hook the instance is held in ``Terminating:Wait`` and no
SIGTERM arrives; the worker learns of it from IMDSv2 (``autoscaling/target-lifecycle-state``
reads ``Terminated``), drains, then completes the lifecycle action (CONTINUE) for its own
instance so termination proceeds at once instead of at the hook's timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import structlog
from botocore.exceptions import BotoCoreError, ClientError

from services.worker.periodic import Periodic

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

_log = structlog.get_logger(__name__)
_SESSION_SECONDS = "21600"  # how long an IMDSv2 session token lives (the maximum)


class InstanceMetadata:
    """A minimal IMDSv2 client: a session token (PUT), then token-authenticated GETs."""

    def __init__(self, endpoint: str, *, timeout: float = 2.0) -> None:
        self._client = httpx.Client(base_url=endpoint.rstrip("/"), timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def get(self, path: str) -> str | None:
        """The metadata value at ``latest/meta-data/<path>``, or None where it doesn't exist (404)."""
        for _ in range(2):
            if self._token is None:
                response = self._client.put(
                    "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": _SESSION_SECONDS}
                )
                response.raise_for_status()
                self._token = response.text
            response = self._client.get(f"/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": self._token})
            if response.status_code == 401:  # the token expired: fetch another once
                self._token = None
                continue
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return response.text
        return None


class Lifecycle(Periodic):
    """Watches the target lifecycle state and completes the termination action after the drain."""

    def __init__(
        self,
        *,
        metadata: InstanceMetadata,
        autoscaling: AutoScalingClient,
        hook_name: str,
        asg_name: str,
        poll_seconds: float,
        on_terminate: Callable[[], None],
    ) -> None:
        super().__init__("lifecycle")
        self._metadata = metadata
        self._autoscaling = autoscaling
        self._hook = hook_name
        self._asg = asg_name
        self._poll = poll_seconds
        self._on_terminate = on_terminate
        self.terminating = False
        """True once the instance's target lifecycle state read ``Terminated``."""

    def period(self) -> float:
        """The poll interval."""
        return self._poll

    def tick(self) -> bool:
        """Poll once; the thread ends once the instance is terminating."""
        return self.check()

    def check(self) -> bool:
        """Read the target lifecycle state once; on ``Terminated`` call ``on_terminate`` (once)."""
        try:
            state = self._metadata.get("autoscaling/target-lifecycle-state")
        except httpx.HTTPError as error:
            _log.warning("instance metadata unreachable", error=str(error))
            return False
        if state == "Terminated" and not self.terminating:
            self.terminating = True
            _log.info("instance is terminating: draining", hook=self._hook, asg=self._asg)
            self._on_terminate()
        return self.terminating

    def complete(self) -> bool:
        """Complete the termination lifecycle action (CONTINUE) for this instance; True if accepted."""
        try:
            instance_id = self._metadata.get("instance-id")
        except httpx.HTTPError as error:
            _log.error("cannot read the instance id to complete the lifecycle action", error=str(error))
            return False
        if instance_id is None:
            _log.error("instance metadata has no instance id")
            return False
        try:
            self._autoscaling.complete_lifecycle_action(
                LifecycleHookName=self._hook,
                AutoScalingGroupName=self._asg,
                LifecycleActionResult="CONTINUE",
                InstanceId=instance_id,
            )
        except (BotoCoreError, ClientError) as error:
            _log.error("completing the lifecycle action failed", error=str(error), instance_id=instance_id)
            return False
        _log.info("lifecycle action completed", instance_id=instance_id, hook=self._hook)
        return True

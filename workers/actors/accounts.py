"""Account emails (default queue)."""

import dramatiq

from apps.accounts import services

EMAIL_OPTIONS = {
    "queue_name": "default",
    "max_retries": 5,
    "min_backoff": 10_000,
    "max_backoff": 600_000,
    "time_limit": 60_000,
}


@dramatiq.actor(actor_name="send_verification_email", **EMAIL_OPTIONS)
def send_verification_email(user_id: int) -> None:
    services.email_verification_deliver(user_id=user_id)


@dramatiq.actor(actor_name="send_invitation_email", **EMAIL_OPTIONS)
def send_invitation_email(invitation_id: int, token: str) -> None:
    services.invitation_deliver(invitation_id=invitation_id, token=token)

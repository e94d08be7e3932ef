"""A small client for the users API, built on :mod:`urllib` only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class User:
    """A user as the consumer sees it.

    :param id: The provider's id for the user.
    :param name: Display name.
    :param created_on: When the provider created the user.
    :param admin: Whether the user is an administrator.
    """

    id: int
    name: str
    created_on: datetime
    admin: bool

    @classmethod
    def from_json(cls, data: Any) -> User:
        """Build a user from the provider's JSON.

        :param data: The decoded response body.
        :returns: The user.
        :raises ValueError: When a field is missing or has the wrong type.
        """
        if not isinstance(data, dict):
            msg = f"Expected a JSON object for a user, got {data!r}."
            raise ValueError(msg)
        try:
            user = cls(
                id=data["id"],
                name=data["name"],
                created_on=datetime.fromisoformat(data["created_on"]),
                admin=data["admin"],
            )
        except (KeyError, TypeError) as exc:
            msg = f"The user {data!r} lacks a field or has one of the wrong type."
            raise ValueError(msg) from exc
        # The constructor does not check types, and the pact's matchers are only
        # worth something if the client really relies on them.
        if not isinstance(user.id, int) or not isinstance(user.name, str):
            msg = f"The user {data!r} has a non-integer id or a non-string name."
            raise ValueError(msg)
        if not isinstance(user.admin, bool):
            msg = f"The user {data!r} has a non-boolean admin flag."
            raise ValueError(msg)
        return user


def handle_user_event(body: str | bytes | None, metadata: Mapping[str, object]) -> User:
    """Read a ``user_created`` event from the users service's topic.

    :param body: The message body (JSON).
    :param metadata: The message metadata; ``topic`` must be ``users``.
    :returns: The user the event is about.
    :raises ValueError: For another topic, event or a malformed user.
    """
    if metadata.get("topic") != "users":
        msg = f"Expected an event on topic 'users', got {metadata!r}."
        raise ValueError(msg)
    event = json.loads(body or b"null")
    if not isinstance(event, dict) or event.get("event") != "user_created":
        msg = f"Expected a user_created event, got {event!r}."
        raise ValueError(msg)
    return User.from_json(event.get("user"))


class UserClient:
    """Talk to the users API at ``base_url``.

    :param base_url: Where the API lives, e.g. ``"http://127.0.0.1:5000"``.
    :param timeout: Seconds to wait for each response.
    """

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def get_user(self, user_id: int) -> User | None:
        """Fetch a user.

        :param user_id: The user's id.
        :returns: The user, or ``None`` when the provider has no such user.
        :raises urllib.error.HTTPError: On any other error status.
        """
        try:
            body = self._request("GET", f"/users/{user_id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                exc.close()
                return None
            raise
        return User.from_json(json.loads(body))

    def create_user(self, name: str) -> User:
        """Create a user; the provider chooses the id.

        :param name: The new user's name.
        :returns: The created user.
        :raises urllib.error.HTTPError: When the provider refuses.
        """
        body = self._request("POST", "/users", {"name": name})
        return User.from_json(json.loads(body))

    def delete_user(self, user_id: int) -> None:
        """Delete a user.

        :param user_id: The user's id.
        :raises urllib.error.HTTPError: When the provider refuses, including 404
            for a user that does not exist.
        """
        self._request("DELETE", f"/users/{user_id}")

    def _request(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> bytes:
        data = None
        headers = {"Accept": "application/json"}
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body: bytes = response.read()
        return body

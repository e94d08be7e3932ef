"""The users API: an application factory and three views.

The views reach the database through ``db.FAKE_DB`` on every call, never
through a name imported once, so that replacing ``users_provider.db.FAKE_DB``
(as provider states do) changes what the views see.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from users_provider import db, events

users = Blueprint("users", __name__)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the users API.

    :param config: Flask config values applied over the defaults, for example
        ``{"TESTING": True}``.
    :returns: The configured app.
    """
    app = Flask(__name__)
    if config is not None:
        app.config.from_mapping(config)
    app.register_blueprint(users)
    return app


def _error(status: int, message: str) -> ResponseReturnValue:
    return jsonify({"error": message}), status


@users.get("/users/<int:user_id>")
def get_user(user_id: int) -> ResponseReturnValue:
    """Return one user, or a JSON 404 when there is none with that id."""
    user = db.FAKE_DB.get(user_id)
    if user is None:
        return _error(404, f"User {user_id} does not exist.")
    return jsonify(user.to_json()), 200


@users.post("/users")
def create_user() -> ResponseReturnValue:
    """Create a user from a JSON body ``{"name": ..., "id"?: ..., "admin"?: ...}``.

    Without an ``id`` the new user gets the highest existing id plus one, so the
    id is predictable from the database contents (which provider states set).
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        return _error(400, "The field 'name' must be a non-empty string.")
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        return _error(400, "The field 'admin' must be true or false.")
    user_id = body.get("id")
    if user_id is None:
        user_id = max(db.FAKE_DB, default=0) + 1
    # bool is an int subclass, and "id": true is a client bug, not user 1.
    elif not isinstance(user_id, int) or isinstance(user_id, bool) or user_id < 1:
        return _error(400, "The field 'id' must be a positive integer.")
    elif user_id in db.FAKE_DB:
        return _error(409, f"User {user_id} already exists.")

    user = db.User(
        id=user_id,
        name=name,
        created_on=datetime.now(UTC).replace(microsecond=0),
        admin=admin,
    )
    db.FAKE_DB[user_id] = user
    events.publish(
        events.USERS_TOPIC, {"event": "user_created", "user": user.to_json()}
    )
    location = url_for("users.get_user", user_id=user_id)
    return jsonify(user.to_json()), 201, {"Location": location}


@users.delete("/users/<int:user_id>")
def delete_user(user_id: int) -> ResponseReturnValue:
    """Delete a user: 204 with no body, or a JSON 404 when there is none."""
    if db.FAKE_DB.pop(user_id, None) is None:
        return _error(404, f"User {user_id} does not exist.")
    return "", 204

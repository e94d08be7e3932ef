"""The orders service's tables: customers, their orders, and order items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """The declarative base of every model."""


db = SQLAlchemy(model_class=Base)
"""The Flask-SQLAlchemy extension; ``create_app`` sets it up on the app."""

if TYPE_CHECKING:  # mypy cannot see db.Model as a class
    Model = Base
else:
    Model = db.Model


class Customer(Model):
    """Someone who orders."""

    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    orders: Mapped[list[Order]] = relationship(
        back_populates="customer", order_by="Order.id"
    )

    def to_json(self) -> dict[str, Any]:
        """The customer as the API sends it."""
        return {"id": self.id, "name": self.name}


class Order(Model):
    """An order of one customer: ``open`` until it is cancelled."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customer.id"))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan"
    )

    def to_json(self) -> dict[str, Any]:
        """The order with its items and total, as the API sends it."""
        return {
            "id": self.id,
            "customerId": self.customer_id,
            "status": self.status,
            "items": [item.to_json() for item in self.items],
            "totalCents": sum(i.quantity * i.unit_price_cents for i in self.items),
        }


class OrderItem(Model):
    """One line of an order."""

    __tablename__ = "order_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"))
    product: Mapped[str] = mapped_column(sa.String(200))
    quantity: Mapped[int]
    unit_price_cents: Mapped[int]
    order: Mapped[Order] = relationship(back_populates="items")

    def to_json(self) -> dict[str, Any]:
        """The item as the API sends it."""
        return {
            "product": self.product,
            "quantity": self.quantity,
            "unitPriceCents": self.unit_price_cents,
        }

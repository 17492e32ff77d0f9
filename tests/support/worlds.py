"""Small worlds with some history (volunteers, an organisation, an exchange point, redemptions
and their reversals), built through the application."""

from __future__ import annotations

from ledger.application import HourLedger
from tests.support.builders import AppWorld, item, redemption, reversal


def busy_world(ledger: HourLedger, people: int = 4) -> None:
    world = AppWorld(ledger)
    organization = world.organization()
    point = world.point(tea=item(30, 10))
    for _ in range(people):
        volunteer = world.volunteer(organization, earned_minutes=90, timebank_minutes=60)
        bought = world.post(redemption(point, volunteer, ("tea", 1)))
        world.post(reversal(bought.transaction))

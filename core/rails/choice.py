"""Which rail collects from a customer: by the network of their number, unless they chose one.

M-Pesa's STK push reaches Safaricom lines only; Airtel Money and Telkom's T-Kash customers (and
cards, for anyone who asks) pay on PesaPal's hosted page. The network comes from the number
(phonenumbers' carrier data for Kenya's prefixes): a ported number keeps its prefix, so a
customer can always choose a rail explicitly.
"""

from __future__ import annotations

from enum import StrEnum

import phonenumbers
from phonenumbers import carrier

from core.quotes.maths import Rail


class Network(StrEnum):
    SAFARICOM = "safaricom"
    AIRTEL = "airtel"
    TELKOM = "telkom"
    OTHER = "other"


RAIL_BY_NETWORK: dict[Network, Rail] = {
    Network.SAFARICOM: Rail.MPESA,
    Network.AIRTEL: Rail.PESAPAL,
    Network.TELKOM: Rail.PESAPAL,
    Network.OTHER: Rail.PESAPAL,
}
COLLECTION_RAILS = (Rail.MPESA, Rail.PESAPAL)


def network_of(phone: str) -> Network:
    """The mobile network of an E.164 Kenyan number (OTHER when the prefix is unknown)."""
    try:
        number = phonenumbers.parse(phone, "KE")
    except phonenumbers.NumberParseException:
        return Network.OTHER
    name = carrier.name_for_number(number, "en").lower()
    for network in (Network.SAFARICOM, Network.AIRTEL, Network.TELKOM):
        if network.value in name:
            return network
    return Network.OTHER


def collection_rail(phone: str, chosen: Rail | None = None) -> Rail:
    """The rail that collects KES from this customer: their choice, else their network's."""
    if chosen in COLLECTION_RAILS:
        return chosen
    return RAIL_BY_NETWORK[network_of(phone)]

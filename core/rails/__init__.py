"""Collections by a rail other than the STK push path: PesaPal's hosted page (cards, Airtel Money).

`choice` picks a customer's rail by network and choice; `service` keeps the orders and credits a
confirmed one once; `jobs` submit orders, confirm them with the provider's status query and
reconcile the ones left pending.
"""

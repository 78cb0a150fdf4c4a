"""restate-sdk's test-services app (its testservices.py), served by awaken: `awaken serve
tests.compat.testservices_app:app`. SERVICES=Name,Name picks services, as in Restate's image."""

import os

import awaken as restate

from . import testservices as services


def test_services():
    names = os.environ.get("SERVICES")
    return services.services_named(names.split(",")) if names else services.all_services()


test_services.__test__ = False  # not a pytest test

e2e_signing_key_env = os.environ.get("E2E_REQUEST_SIGNING")
if e2e_signing_key_env is not None:
    e2e_signing_key_env = [e2e_signing_key_env]

app = restate.app(services=test_services(), identity_keys=e2e_signing_key_env)

import logging

import awaken as restate
from concurrent_greeter import concurrent_greeter
from greeter import greeter
from pydantic_greeter import pydantic_greeter
from random_greeter import random_greeter
from virtual_object import counter
from workflow import payment

logging.basicConfig(level=logging.INFO)

app = restate.app(services=[greeter, random_greeter, counter, payment, pydantic_greeter, concurrent_greeter])

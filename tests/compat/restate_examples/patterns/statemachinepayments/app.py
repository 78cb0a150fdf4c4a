import awaken as restate
from statemachinepayments.accounts import account
from statemachinepayments.payment_processor import payment_processor

app = restate.app([payment_processor, account])

import logging

import awaken as restate

logging.basicConfig(
    level=logging.INFO,
    format="[%(asctime)s] [%(process)d] [%(levelname)s] - %(message)s",
)
logger = logging.getLogger(__name__)

product_service = restate.VirtualObject("product")


@product_service.handler()
async def reserve(ctx: restate.ObjectContext) -> bool:
    if await ctx.get("reserved", type_hint=bool):
        logging.info(f"Product already reserved {ctx.key()}")
        return False
    logging.info(f"Reserving product {ctx.key()}")
    ctx.set("reserved", True)
    return True


app = restate.app([product_service])

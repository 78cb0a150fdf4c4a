import logging

from pydantic import BaseModel

import awaken as restate
from awaken.exceptions import TerminalError
from sagas.clients import car_rental_client, flight_client, hotel_client

logging.basicConfig(
    level=logging.INFO,
    format="[%(asctime)s] [%(process)d] [%(levelname)s] - %(message)s",
)


class BookingRequest(BaseModel):
    customer_id: str
    flight: flight_client.FlightRequest
    car: car_rental_client.CarRentalRequest
    hotel: hotel_client.HotelRequest


booking_workflow = restate.Service("BookingWorkflow")


@booking_workflow.handler()
async def run(ctx: restate.Context, req: BookingRequest):
    compensations = []

    try:
        compensations.append(
            lambda: ctx.run_typed("Cancel flight", flight_client.cancel, customer_id=req.customer_id)
        )
        await ctx.run_typed("Book flight", flight_client.book, customer_id=req.customer_id, flight=req.flight)

        compensations.append(
            lambda: ctx.run_typed("Cancel car", car_rental_client.cancel, customer_id=req.customer_id)
        )
        await ctx.run_typed("Book car", car_rental_client.book, customer_id=req.customer_id, car=req.car)

        compensations.append(
            lambda: ctx.run_typed("Cancel hotel", hotel_client.cancel, customer_id=req.customer_id)
        )
        await ctx.run_typed("Book hotel", hotel_client.book, customer_id=req.customer_id, hotel=req.hotel)

    except TerminalError as e:
        for compensation in reversed(compensations):
            await compensation()
        raise e


app = restate.app([booking_workflow])

from pydantic import BaseModel

import awaken as restate
from awaken.exceptions import TerminalError


class LocationUpdate(BaseModel):
    location: str
    timestamp: str


class PackageInfo(BaseModel):
    final_destination: str
    locations: list[LocationUpdate] = []


package_tracker = restate.VirtualObject("package-tracker")


@package_tracker.handler("registerPackage")
async def register_package(ctx: restate.ObjectContext, package_info: PackageInfo):
    ctx.set("package-info", package_info)


@package_tracker.handler("updateLocation")
async def update_location(ctx: restate.ObjectContext, location_update: LocationUpdate):
    package_info = await ctx.get("package-info", type_hint=PackageInfo)
    if package_info is None:
        raise TerminalError(f"Package {ctx.key()} not found")

    package_info.locations.append(location_update)
    ctx.set("package-info", package_info)


@package_tracker.handler("getPackageInfo", kind="shared")
async def get_package_info(ctx: restate.ObjectSharedContext) -> PackageInfo:
    package_info = await ctx.get("package-info", type_hint=PackageInfo)
    if not package_info:
        raise TerminalError("Package not found")
    return package_info


app = restate.app(services=[package_tracker])

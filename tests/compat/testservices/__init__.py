"""restate-sdk's test services (the sdk-test-suite contracts of restatedev/sdk-python's
test-services/), written again for awaken: the handlers are Restate's, only the imports differ
(`from restate...` -> `from awaken...`)."""

from awaken import Service, VirtualObject, Workflow

# ruff: noqa: F401
from .awakeable_holder import awakeable_holder as s3
from .block_and_wait_workflow import workflow as s4
from .cancel_test import blocking_service as s5
from .cancel_test import runner
from .counter import counter_object as s1
from .failing import failing as s6
from .interpreter import helper as s15
from .interpreter import layer_0 as s12
from .interpreter import layer_1 as s13
from .interpreter import layer_2 as s14
from .kill_test import kill_runner
from .kill_test import kill_singleton as s7
from .list_object import list_object as s8
from .map_object import map_object as s9
from .non_determinism import non_deterministic as s10
from .proxy import proxy as s2
from .test_utils import test_utils as s11
from .virtual_object_command_interpreter import virtual_object_command_interpreter as s16


def list_services(bindings):
    return {
        obj.name: obj for _, obj in bindings.items() if isinstance(obj, (Service, VirtualObject, Workflow))
    }


def services_named(service_names):
    return [_all_services[name] for name in service_names]


def all_services():
    return _all_services.values()


_all_services = list_services(locals())

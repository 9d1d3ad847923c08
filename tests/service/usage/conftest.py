import pytest

from tests.service.usage.receiver import start_receiver


@pytest.fixture
def receiver():
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()

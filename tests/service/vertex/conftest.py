import pytest

from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import run_in_thread
from tests.fakes.vertex_claude import FakeVertex


@pytest.fixture
def oauth():
    fake = FakeOAuth()
    handle = run_in_thread(fake.app)
    fake.base_url = handle.base_url
    yield fake
    handle.stop()


@pytest.fixture
def sa_info(oauth):
    info = make_service_account(oauth.token_uri, project_id="sa-project")
    oauth.trust(info)
    return info


@pytest.fixture
def sa_file(tmp_path, sa_info):
    return write_service_account(tmp_path / "sa.json", sa_info)


@pytest.fixture
def vertex(oauth):
    fake = FakeVertex(oauth)
    handle = run_in_thread(fake.app)
    fake.base_url = handle.base_url
    yield fake
    handle.stop()

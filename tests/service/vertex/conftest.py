import pytest

from tests.fakes.oauth import FakeOAuth, make_service_account, write_service_account
from tests.fakes.server import serving
from tests.fakes.vertex_claude import FakeVertex


@pytest.fixture
def oauth():
    with serving(FakeOAuth()) as fake:
        yield fake


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
    with serving(FakeVertex(oauth)) as fake:
        yield fake

from __future__ import annotations

import pytest

from tests.fakes.gemini import FakeGemini
from tests.fakes.server import serving


@pytest.fixture(scope="session")
def fake_gemini_server():
    with serving(FakeGemini()) as fake:
        yield fake


@pytest.fixture
def fake_gemini(fake_gemini_server):
    fake_gemini_server.reset()
    yield fake_gemini_server
    fake_gemini_server.reset()

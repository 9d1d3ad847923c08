from __future__ import annotations

import pytest

from tests.fakes.gemini import FakeGemini
from tests.fakes.server import run_in_thread


@pytest.fixture(scope="session")
def fake_gemini_server():
    fake = FakeGemini()
    server = run_in_thread(fake.app)
    fake.base_url = server.base_url
    yield fake
    server.stop()


@pytest.fixture
def fake_gemini(fake_gemini_server):
    fake_gemini_server.reset()
    yield fake_gemini_server
    fake_gemini_server.reset()

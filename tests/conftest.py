import pytest

from scripted_server import ScriptedServer


@pytest.fixture
def scripted_server():
    """A running ScriptedServer (see tests/scripted_server.py); script it in the test."""
    with ScriptedServer() as server:
        yield server

import pytest

from scripted_server import ScriptedServer


@pytest.fixture
def scripted_server():
    """A running ScriptedServer (see tests/scripted_server.py); script it in the test."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _private_user_cache(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's cache directory (the structured-output form
    file lives there), and start without one another's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))

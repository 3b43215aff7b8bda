"""Running the server with uvicorn: one process, or several worker processes on one
listening socket (``crowdalpha serve --workers N``).

uvicorn starts each worker by pickling its config, the app factory included, into a
fresh (spawned) process, and restarts a worker that does not answer its health check
within a few seconds. A worker answers only once that unpickling is done, and
importing the server takes longer than that on a busy machine. So this module imports
nothing heavy, and ``AppFactory`` carries the settings as pickled bytes: the worker
unpickles them and imports the server only when uvicorn calls the factory, after it
answers. The settings parsed once by the command reach every worker as they are,
never through environment variables.
"""

from __future__ import annotations

import inspect
import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crowdalpha.server.settings import ServerSettings


@dataclass(frozen=True)
class AppFactory:
    """``create_app(settings)`` when called; cheap to unpickle (see the module's docstring)."""

    settings: bytes  # the pickled ServerSettings

    @classmethod
    def of(cls, settings: ServerSettings) -> AppFactory:
        return cls(pickle.dumps(settings))

    def __call__(self) -> Any:
        from crowdalpha.server.app import create_app

        return create_app(pickle.loads(self.settings))


def run_server(settings: ServerSettings, *, workers: int = 1) -> None:
    """Serve ``settings``' home on ``settings.host:settings.port`` with uvicorn until
    interrupted; ``workers`` > 1 runs that many processes on one listening socket."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from crowdalpha.errors import ConfigError

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers={workers!r} must be a whole number of processes, at least 1")
    config = uvicorn.Config(
        AppFactory.of(settings), factory=True, host=settings.host, port=settings.port,
        workers=workers, log_level="warning", timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    try:
        if workers == 1:
            server.run()
        elif "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn
            Multiprocess(config, target=server.run, sockets=[config.bind_socket()]).run()
        else:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        raise ConfigError(f"the server could not start on {settings.host}:{settings.port} "
                          "(see the message above)")


__all__ = ["AppFactory", "run_server"]

from haulbridge_runtime.service import serve

from .app import build_app
from .settings import NotifySettings


def main() -> None:
    settings = NotifySettings()
    serve(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()

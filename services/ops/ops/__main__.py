from haulbridge_runtime.service import serve

from .app import build_app
from .settings import OpsSettings


def main() -> None:
    settings = OpsSettings()
    serve(lambda: build_app(settings), settings)


if __name__ == "__main__":
    main()

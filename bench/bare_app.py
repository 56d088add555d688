"""A bare Litestar app: the framework ceiling the services' health endpoint is measured against."""

from litestar import Litestar, get


@get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([live])

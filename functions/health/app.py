"""GET /api/health: liveness, with no downstream calls so it stays cheap to poll."""

from apikit.app import create_app, make_handler

app = create_app()


@app.get("/api/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


lambda_handler = make_handler(app)

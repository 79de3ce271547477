"""The original Python stack's /v1/models (FastAPI + uvicorn), for the side-by-side benchmark in hack/src/bench/serving.ts.

Same contract as HyperGen's endpoint: optional Bearer key, 401 {"detail": "Invalid API key"}.
"""
import hmac
import os
import time

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

MODEL_ID = os.environ.get("MODEL_ID", "models/tiny-sd")
API_KEY = os.environ.get("API_KEY", "")
CREATED = int(time.time())

app = FastAPI()


@app.get("/v1/models")
async def list_models(authorization: str | None = Header(default=None)):
    if API_KEY:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(token.encode(), API_KEY.encode()):
            return JSONResponse(status_code=401, content={"detail": "Invalid API key"})
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "hypergen"}]}

"""The operator endpoints under /api/v1, one `APIRouter` per resource, all behind the
operator's key. Import the rest of starter.api and the layers below it."""

"""/openapi.json tells the truth (issue 14): what a schemathesis run found, one behaviour a test.
The whole contract is checked by tests/api/test_openapi_contract.py and ``python -m bench.openapi``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from liveshop.app import create_app
from liveshop.config import Settings
from tests.conftest import make_product

JSON = {"content-type": "application/json"}


@pytest.fixture
def spec(make_settings: Callable[..., Settings]) -> dict[str, Any]:
    """The app's OpenAPI document (built, not served)."""
    document: dict[str, Any] = create_app(make_settings()).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def _api_routes(items: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in items:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        found += _api_routes(inner.routes) if inner is not None else []
        found += [route] if isinstance(route, APIRoute) else []
    return found


# --- methods and routes -----------------------------------------------------------------------


async def test_put_on_the_active_show_is_405(client: httpx.AsyncClient) -> None:
    """``/api/livestreams/active`` is not a show id: PUT there is 405 ``Allow: GET``, not a 422."""
    r = await client.put("/api/livestreams/active", json={})
    assert (r.status_code, r.headers["allow"]) == (405, "GET")


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    """A 405's ``Allow`` names all the methods the path has, not the first route's only."""
    r = await client.request("TRACE", "/api/livestreams/1")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "PUT", "PATCH", "DELETE"}


async def test_patch_on_a_whip_session_is_405_allowing_delete(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Trickle ICE is not supported: PATCH on a session is 405, and only DELETE is allowed there."""
    r = await client.patch("/api/livestreams/1/whip/abc", content=b"a=candidate", headers=admin)
    assert (r.status_code, r.headers["allow"]) == (405, "DELETE")


async def test_an_id_that_is_not_a_number_matches_no_route(client: httpx.AsyncClient) -> None:
    """``/api/products/abc`` is 404 (documented for every path with an id)."""
    assert (await client.get("/api/products/abc")).status_code == 404


def test_every_id_in_a_path_is_bounded(spec: dict[str, Any]) -> None:
    """Path ids are integers 1..2**31-1 (sequence numbers from 0) in the document."""
    for _, path, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                assert "minimum" in parameter["schema"], (path, parameter["name"])
                assert parameter["schema"]["maximum"] <= 2**31 - 1, (path, parameter["name"])


def test_every_integer_path_parameter_uses_the_int_convertor(
    spec: dict[str, Any], make_settings: Callable[..., Settings]
) -> None:
    """A route written ``{livestream_id}`` (not ``{livestream_id:int}``) would take ``active``."""
    integer_params = {
        (path, parameter["name"])
        for _, path, operation in _operations(spec)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and parameter["schema"].get("type") == "integer"
    }
    app = create_app(make_settings())
    for route in _api_routes(app.router.routes):
        for path, name in integer_params:
            if route.path_format == path:
                assert "{" + name + ":int}" in route.path, route.path


# --- authentication before the body -------------------------------------------------------------


async def test_no_token_is_401_before_a_malformed_body(client: httpx.AsyncClient) -> None:
    """Without a token, a body that is not JSON is 401 (auth first), not 422."""
    r = await client.post("/api/products", content=b'{"name": ', headers=JSON)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


async def test_wrong_role_is_403_before_a_malformed_body(
    client: httpx.AsyncClient, guest: dict[str, str]
) -> None:
    """A guest's malformed body to a seller's route is 403 (role first), not 422."""
    r = await client.post("/api/products", content=b'{"name": "\xff"}', headers={**guest, **JSON})
    assert r.status_code == 403


async def test_malformed_body_is_still_422_after_auth(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """With a valid token, a body that is not JSON is 422 ``json_invalid``."""
    r = await client.post("/api/products", content=b'{"name": ', headers={**admin, **JSON})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


async def test_non_utf8_body_is_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """A body that is not UTF-8 is 400 (as the document says)."""
    body = b'{"title": "\xff"}'
    r = await client.post("/api/livestreams", content=body, headers={**admin, **JSON})
    assert r.status_code == 400 and "detail" in r.json()


async def test_unreadable_body_is_refused_when_every_field_is_optional(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """PATCH with a body that is not JSON changes nothing (its fields all have defaults)."""
    show = await client.post("/api/livestreams", json={"title": "Show"}, headers=admin)
    url = f"/api/livestreams/{show.json()['livestream']['id']}"
    r = await client.patch(url, content=b"\x00", headers={**admin, **JSON})
    assert r.status_code == 422


def test_every_json_body_is_a_body_model(make_settings: Callable[..., Settings]) -> None:
    """Request bodies derive from ``schemas.Body``, which refuses a body that was not JSON (a
    model of optional fields would otherwise read it as ``{}``), and routes use ``ApiRoute``."""
    from liveshop.api.routing import ApiRoute
    from liveshop.api.schemas import Body

    for route in _api_routes(create_app(make_settings()).router.routes):
        if route.path.startswith("/api"):
            assert isinstance(route, ApiRoute), route.path
        if route.body_field is not None:
            models = getattr(route.body_field.field_info.annotation, "__args__", None)
            for model in models or (route.body_field.field_info.annotation,):
                assert model is type(None) or issubclass(model, Body), (route.path, model)


async def test_guest_body_that_is_not_json_is_422(client: httpx.AsyncClient) -> None:
    """``POST /api/auth/guest`` (optional body) refuses a body that is not JSON."""
    r = await client.post("/api/auth/guest", content=b"\x00", headers=JSON)
    assert r.status_code == 422


# --- what the document states -----------------------------------------------------------------


def test_bearer_scheme_marks_the_operations_that_need_a_token(spec: dict[str, Any]) -> None:
    """``bearer`` is declared; seller routes require it, public reads don't, guest is optional."""
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/products"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/products"]["get"]
    assert {} in spec["paths"]["/api/auth/guest"]["post"]["security"]


def test_secured_operations_document_401_with_its_challenge(spec: dict[str, Any]) -> None:
    """Every operation that needs a token documents 401 with ``WWW-Authenticate``."""
    for method, path, operation in _operations(spec):
        if operation.get("security") == [{"bearer": []}]:
            headers = operation["responses"]["401"]["headers"]
            assert "WWW-Authenticate" in headers, (method, path)


def test_json_bodies_document_400_413_and_422(spec: dict[str, Any]) -> None:
    """Every operation with a JSON body documents the parse (400), size (413) and validation
    (422) answers."""
    for method, path, operation in _operations(spec):
        if "application/json" in operation.get("requestBody", {}).get("content", {}):
            assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)


def test_chunk_put_documents_201_and_200(spec: dict[str, Any]) -> None:
    """A recording chunk is 201 when new and 200 when it replaces one: both are documented."""
    operation = spec["paths"]["/api/livestreams/{livestream_id}/recording/chunks/{seq}"]["put"]
    assert {"200", "201"} <= set(operation["responses"])


def test_price_schema_states_the_rules(spec: dict[str, Any]) -> None:
    """Price: a positive decimal string of ≤ 2 places ≤ 99999999.99, or such a JSON number."""
    price = spec["components"]["schemas"]["ProductCreate"]["properties"]["price"]["anyOf"]
    string, number = price
    assert string["pattern"] and number["exclusiveMinimum"] == 0
    assert (number["maximum"], number["multipleOf"]) == (99999999.99, 0.01)


def test_upload_documents_400_for_an_unreadable_form(spec: dict[str, Any]) -> None:
    """The multipart upload answers 400 for a form it cannot read (too many fields)."""
    operation = spec["paths"]["/api/livestreams/{livestream_id}/upload"]["post"]
    assert "400" in operation["responses"]


# --- the server keeps to what the document states ---------------------------------------------


@pytest.mark.parametrize("price", [" 5", "1e2", "05.00", "+5", "5."])
async def test_price_strings_are_in_the_wire_form(
    client: httpx.AsyncClient, admin: dict[str, str], price: str
) -> None:
    """A price string is digits with ≤ 2 places, as the document's pattern says."""
    r = await client.post("/api/products", json={"name": "Mug", "price": price}, headers=admin)
    assert r.status_code == 422, r.text


async def test_whole_number_floats_are_integers(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """``"stock": 3.0`` is the integer 3, as JSON Schema reads it (``3.5`` stays refused)."""
    product = await make_product(client, admin, stock=3.0)
    assert product["stock"] == 3


@pytest.mark.parametrize("name", ["Mug\x85", "Mug\x7f", "\u3000\u00a0"])
async def test_names_refuse_control_characters_and_blanks(
    client: httpx.AsyncClient, admin: dict[str, str], name: str
) -> None:
    """A name is one line without C0/C1 control characters, and not only spaces."""
    r = await client.post("/api/products", json={"name": name, "price": "1.00"}, headers=admin)
    assert r.status_code == 422, r.text


async def test_names_are_trimmed_after_the_checks(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Surrounding spaces are still trimmed."""
    product = await make_product(client, admin, name="  Mug  ")
    assert product["name"] == "Mug"


@pytest.mark.parametrize("url", ["/a b", "https://shop.example/\x01", "http:///evil"])
async def test_urls_refuse_spaces_controls_and_no_host(
    client: httpx.AsyncClient, admin: dict[str, str], url: str
) -> None:
    """URL fields follow the document's pattern: no spaces or controls, a host after ``//``."""
    body = {"name": "Mug", "price": "1.00", "imageUrl": url}
    r = await client.post("/api/products", json=body, headers=admin)
    assert r.status_code == 422, r.text


async def test_email_with_surrounding_spaces_is_refused(client: httpx.AsyncClient) -> None:
    """The e-mail pattern has no spaces, and the server no longer trims them silently."""
    body = {"email": " a@shop.example", "password": "long enough", "name": "A"}
    r = await client.post("/api/auth/register", json=body)
    assert r.status_code == 422


async def test_thumbnail_that_is_not_an_image_is_a_validation_list(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """422 ``detail`` is a list of ``{loc, field, msg, type}`` here too."""
    show = await client.post("/api/livestreams", json={"title": "Show"}, headers=admin)
    url = f"/api/livestreams/{show.json()['livestream']['id']}/thumbnail"
    r = await client.put(
        url, content=b"not an image", headers={**admin, "content-type": "image/png"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"

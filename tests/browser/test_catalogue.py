"""End-to-end: the catalogue page (/studio/catalogue) in headless Chromium. The seller adds a
product with a picture, edits, finds and deletes it; is told why a picture is refused; imports a 50-row Shopify CSV with bad rows
(each shown, nothing imported), then the good file, then the same file with new prices (updated,
not duplicated); exports the catalogue from the page and imports that file back unchanged."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import expect

from tests.browser.conftest import PHONE, SCREENSHOTS, PageErrors, Shop
from tests.browser.test_pages import NO_HORIZONTAL_SCROLL
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.shopify_samples import BAD_ROWS, shop_csv

pytestmark = pytest.mark.browser

IMAGES_LOADED = """() => [...document.querySelectorAll('#product-rows img')]
  .every((img) => img.complete && img.naturalWidth > 0)"""


def scarf_photo() -> bytes:
    """A phone-like photo: 1200×900 with EXIF (the server must drop it)."""
    image = Image.new("RGB", (1200, 900), (32, 60, 110))
    draw = ImageDraw.Draw(image)
    for i in range(0, 1200, 60):
        draw.rectangle((i, 0, i + 30, 900), fill=(200, 60, 50))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def open_catalogue(page: Any, shop: Shop) -> None:
    await page.goto(f"{shop.server.url}/studio/catalogue")
    await page.get_by_label("E-mail", exact=True).fill(ADMIN_EMAIL)
    await page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#catalogue-view")).to_be_visible()


async def api_products(shop: Shop) -> list[dict[str, Any]]:
    r = await shop.http.get("/api/products?limit=100")
    products: list[dict[str, Any]] = r.json()["products"]
    return products


async def test_seller_adds_edits_finds_and_deletes_a_product_with_a_picture(
    make_shop: Any, open_page: Any
) -> None:
    """A product made on the page gets its picture in sizes; edits, search and delete work."""
    shop = await make_shop("p2p")
    page = await open_page("seller")
    await open_catalogue(page, shop)
    rows = page.locator("#product-rows tr")
    await expect(rows).to_have_count(3)

    await page.get_by_role("button", name="Add product").click()
    editor = page.locator("dialog.product-editor")
    await editor.get_by_label("Name").fill("Wool scarf")
    await editor.get_by_label("Description").fill("Warm.\n\nHand-knitted in Porto.")
    await editor.get_by_label("Price").fill("29.90")
    await editor.get_by_label("Currency").select_option("EUR")
    await editor.get_by_label("Stock").fill("5")
    await editor.get_by_label("SKU").fill("SCARF-1")
    await editor.get_by_label("Picture").set_input_files(
        {"name": "scarf.jpg", "mimeType": "image/jpeg", "buffer": scarf_photo()}
    )
    await expect(editor.get_by_role("img", name="Picture preview")).to_be_visible()
    await editor.get_by_role("button", name="Add product").click()
    await expect(editor).to_have_count(0)
    scarf_row = page.locator("#product-rows tr", has_text="Wool scarf")
    await expect(scarf_row).to_have_count(1)
    await expect(scarf_row.locator("img")).to_have_attribute(
        "src", re.compile(r"/media/products/[0-9a-f]+-160\.webp$")
    )
    await page.wait_for_function(IMAGES_LOADED)
    (scarf,) = [p for p in await api_products(shop) if p["sku"] == "SCARF-1"]
    assert (scarf["handle"], scarf["price"], scarf["currency"], scarf["stock"]) == (
        "wool-scarf",
        "29.90",
        "EUR",
        5,
    )
    assert scarf["description"] == "Warm.\n\nHand-knitted in Porto."
    assert [i["width"] for i in scarf["images"]] == [160, 480, 1024]
    big = await shop.http.get(scarf["images"][2]["url"])
    assert b"PhoneMaker" not in big.content
    await page.screenshot(path=str(SCREENSHOTS / "catalogue-desktop.png"))

    await scarf_row.get_by_role("button", name="Edit Wool scarf").click()
    await expect(editor.get_by_label("Name")).to_have_value("Wool scarf")
    await editor.get_by_label("Price").fill("24.50")
    await editor.get_by_label("Stock").fill("0")
    await editor.get_by_role("button", name="Save").click()
    await expect(editor).to_have_count(0)
    await expect(scarf_row.locator(".price")).to_contain_text("24.50")
    await expect(scarf_row.locator(".stock")).to_have_text("Sold out")
    (scarf,) = [p for p in await api_products(shop) if p["sku"] == "SCARF-1"]
    assert (scarf["price"], scarf["stock"], len(scarf["images"])) == ("24.50", 0, 3)

    await page.get_by_label("Search products").fill("scarf-1")
    await expect(rows).to_have_count(1)
    await page.get_by_label("Search products").fill("")
    await expect(rows).to_have_count(4)

    await scarf_row.get_by_role("button", name="Delete Wool scarf").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(rows).to_have_count(3)
    await expect(page.locator("#product-rows tr", has_text="Wool scarf")).to_have_count(0)
    assert (await shop.http.get(f"/api/products/{scarf['id']}")).status_code == 404


async def test_refused_pictures_are_explained_in_the_editor(
    make_shop: Any, open_page: Any, page_errors: PageErrors
) -> None:
    """Not a picture, over 10 MB, or one the server refuses (too small): the editor says why."""
    shop = await make_shop("p2p")
    page_errors.allow_http_failures("/picture")  # the server's 422 is what this test provokes
    page = await open_page("seller")
    await open_catalogue(page, shop)
    await page.get_by_role("button", name="Edit Merino beanie").click()
    editor = page.locator("dialog.product-editor")
    alert = editor.get_by_role("alert")
    picture = editor.get_by_label("Picture")

    await picture.set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"})
    await expect(alert).to_have_text("Choose a JPEG, PNG, WebP or GIF picture.")
    big = b"\xff\xd8" + bytes(11 * 1024 * 1024)
    await picture.set_input_files({"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": big})
    await expect(alert).to_have_text("The picture is over 10 MB.")

    tiny = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tiny, "PNG")
    await picture.set_input_files(
        {"name": "icon.png", "mimeType": "image/png", "buffer": tiny.getvalue()}
    )
    await expect(alert).to_have_text("")
    await editor.get_by_role("button", name="Save").click()
    await expect(alert).to_contain_text("The product was saved, but not its picture")
    await expect(alert).to_contain_text("too small")
    beanie = next(p for p in await api_products(shop) if p["name"] == "Merino beanie")
    assert beanie["images"] == []


async def test_csv_import_shows_bad_rows_imports_nothing_then_imports_and_updates(
    make_shop: Any, open_page: Any, page_errors: PageErrors
) -> None:
    """A 50-row Shopify CSV with bad rows lists each and imports nothing; the fixed file imports
    whole; the same file with new prices updates every product instead of adding them again."""
    shop = await make_shop("p2p")
    page_errors.allow_http_failures("cdn.shop.example")  # the file's Image Src: never fetched here
    page = await open_page("seller")
    await open_catalogue(page, shop)
    rows = page.locator("#product-rows tr")
    await expect(rows).to_have_count(3)
    csv_input = page.locator("#csv-file")

    await csv_input.set_input_files(
        {"name": "shop-export.csv", "mimeType": "text/csv", "buffer": shop_csv(bad=True).encode()}
    )
    errors = page.locator("#csv-error-list li")
    await expect(errors).to_have_count(len(BAD_ROWS) + 1)  # + the bad handle's continuation row
    for row, column, _ in BAD_ROWS:
        await expect(page.locator(f"#csv-error-list li[data-row='{row}']").first).to_contain_text(
            column
        )
    await expect(page.locator("#csv-summary")).to_contain_text("50 rows")
    await expect(page.locator("#csv-confirm")).to_be_disabled()
    await page.screenshot(path=str(SCREENSHOTS / "catalogue-import-errors.png"))
    await page.locator("#csv-import").get_by_role("button", name="Cancel").click()
    await expect(rows).to_have_count(3)
    assert len(await api_products(shop)) == 3  # nothing half-imported

    await csv_input.set_input_files(
        {"name": "shop-export.csv", "mimeType": "text/csv", "buffer": shop_csv().encode()}
    )
    await expect(page.locator("#csv-summary")).to_contain_text("20 new")
    await expect(page.locator("#csv-preview tbody tr")).to_have_count(20)
    await page.get_by_role("button", name="Import 20 products").click()
    await expect(page.locator("#csv-summary")).to_contain_text("20 new, 0 updated")
    await expect(rows).to_have_count(23)

    await csv_input.set_input_files(
        {
            "name": "new-prices.csv",
            "mimeType": "text/csv",
            "buffer": shop_csv(price_bump="5").encode(),
        }
    )
    await expect(page.locator("#csv-summary")).to_contain_text("20 to update")
    await expect(page.locator("#csv-preview td.action", has_text="Update")).to_have_count(20)
    await page.get_by_role("button", name="Import 20 products").click()
    await expect(page.locator("#csv-summary")).to_contain_text("0 new, 20 updated")
    await expect(rows).to_have_count(23)
    products = await api_products(shop)
    assert len(products) == 23
    assert next(p for p in products if p["handle"] == "product-01")["price"] == "16.00"


async def test_export_downloads_the_catalogue_that_imports_back_unchanged(
    make_shop: Any, open_page: Any
) -> None:
    """Export CSV downloads Shopify's format with every product; imported back, nothing changes."""
    shop = await make_shop("p2p")
    page = await open_page("seller")
    await open_catalogue(page, shop)
    await expect(page.locator("#product-rows tr")).to_have_count(3)
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await download_info.value
    assert download.suggested_filename == "products.csv"
    data = Path(await download.path()).read_bytes()
    assert data.startswith(b"Handle,Title,Body (HTML),")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    products = await api_products(shop)
    assert len(rows) == len(products) == 3
    assert {(r["Handle"], r["Title"], r["Variant Price"]) for r in rows} == {
        (p["handle"], p["name"], p["price"]) for p in products
    }

    await page.locator("#csv-file").set_input_files(
        {"name": "products.csv", "mimeType": "text/csv", "buffer": data}
    )
    await expect(page.locator("#csv-summary")).to_contain_text("3 unchanged")
    await expect(page.locator("#csv-error-list li")).to_have_count(0)


async def test_catalogue_fits_a_phone(make_shop: Any, open_page: Any) -> None:
    """On a 390 px phone the product list and the editor fit without sideways scrolling."""
    shop = await make_shop("p2p")
    page = await open_page("seller", viewport=PHONE)
    await open_catalogue(page, shop)
    await expect(page.locator("#product-rows tr")).to_have_count(3)
    await page.wait_for_function(IMAGES_LOADED)
    assert await page.evaluate(NO_HORIZONTAL_SCROLL)
    await page.get_by_role("button", name="Edit Merino beanie").click()
    await expect(page.locator("dialog.product-editor").get_by_label("Name")).to_have_value(
        "Merino beanie"
    )
    assert await page.evaluate(NO_HORIZONTAL_SCROLL)
    await page.screenshot(path=str(SCREENSHOTS / "catalogue-phone.png"))


async def test_shoppers_get_the_uploaded_picture_in_a_fitting_size(
    make_shop: Any, open_page: Any
) -> None:
    """A pinned product's card on the watch page offers the picture's sizes (srcset) and loads one."""
    shop = await make_shop("p2p")
    mug = shop.products[0]
    r = await shop.http.put(
        f"/api/products/{mug['id']}/picture",
        content=scarf_photo(),
        headers={**shop.admin, "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 200, r.text
    show = (
        await shop.http.post("/api/livestreams", json={"title": "Pictures"}, headers=shop.admin)
    ).json()["livestream"]
    await shop.http.post(
        f"/api/livestreams/{show['id']}/pin-product",
        json={"productId": mug["id"]},
        headers=shop.admin,
    )
    page = await open_page("shopper")
    await page.goto(f"{shop.server.url}/live/{show['id']}")
    picture = page.locator(f".product-card[data-product-id='{mug['id']}'] img")
    await expect(picture).to_have_attribute(
        "srcset", re.compile(r"-160\.webp 160w, .+-480\.webp 480w")
    )
    await page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=await picture.element_handle()
    )
    assert re.search(
        r"/media/products/[0-9a-f]+-(160|480)\.webp$", await picture.evaluate("i => i.currentSrc")
    )

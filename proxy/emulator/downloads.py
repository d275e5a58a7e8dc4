"""Fetches a request's `Url` image with aiohttp: bounded time and size; failures are v3 errors."""

from __future__ import annotations

import aiohttp
from yarl import URL

from proxy.emulator.exceptions import EmulatorError, failed, invalid_value

DOWNLOAD_TIMEOUT_S = 5.0
MAX_IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4  # 5 MB once base64-encoded, as for `Image`


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    *,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
    max_bytes: int = MAX_IMAGE_BYTES,
) -> bytes:
    try:
        parsed = URL(url)
    except ValueError:
        raise invalid_value("UrlIllegal", "The Url is not a valid URL.") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise invalid_value("UrlIllegal", "The Url must be an http(s) URL.")
    try:
        async with session.get(parsed, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                raise failed("ImageDownloadError", f"Downloading the image returned HTTP {response.status}.")
            if response.content_length is not None and response.content_length > max_bytes:
                raise failed("ImageSizeExceed", "The image is larger than 5 MB once base64-encoded.")
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise failed("ImageSizeExceed", "The image is larger than 5 MB once base64-encoded.")
            return bytes(data)
    except EmulatorError:
        raise
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        raise failed("ImageDownloadError", f"The image could not be downloaded ({type(exc).__name__}).") from None

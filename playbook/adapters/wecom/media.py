"""Images, videos and files for WeCom messages: read (a path under `media_dir`, or an
http(s) URL, downloaded), uploaded once, and the media_id reused while it lives.

Mass messages take temporary media (`media/upload?type=image|video|file`, valid 3 days);
Moments posts take attachment media (`media/upload_attachment?media_type=image|video&
attachment_type=1`). A media_id is kept in the adapter's state until an hour before its three
days are over; one that WeCom refuses anyway (40007) is dropped and uploaded again.
"""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playbook.adapters.base import PermanentError, TransientError
from playbook.adapters.wecom.client import WeComClient
from playbook.adapters.wecom.state import AdapterState
from playbook.i18n import t

MEDIA_TTL = 3 * 86400
MEDIA_MARGIN = 3600  # upload again an hour before WeCom forgets the media_id
MAX_DOWNLOAD = 20 << 20  # WeCom's largest temporary medium (a file)


class Media:
    def __init__(self, client: WeComClient, state: AdapterState, media_dir: Path | None, timeout: float,
                 clock: Callable[[], float]):  # fmt: skip
        self.client = client
        self.state = state
        self.media_dir = media_dir
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()  # one upload of a medium at a time

    def media_id(self, source: str, kind: str, *, moment: bool = False, fresh: bool = False) -> str:
        """The media_id of `source` (kind image | video | file) for a mass message, or for a
        Moments post when `moment`."""
        data, name, stamp = self._read(source)
        key = f"{'attachment' if moment else 'media'}:{kind}:{source}:{stamp}"
        with self._lock:
            cache = self.state.section("media")
            now = self.clock()
            entry = cache.get(key)
            if not fresh and isinstance(entry, dict) and now < entry.get("created_at", 0) + MEDIA_TTL - MEDIA_MARGIN:
                return str(entry["media_id"])
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if moment:
                doc = self.client.upload("media/upload_attachment", name, data, content_type, media_type=kind,
                                         attachment_type=1)  # fmt: skip
            else:
                doc = self.client.upload("media/upload", name, data, content_type, type=kind)
            media_id = doc.get("media_id")
            if not isinstance(media_id, str) or not media_id:
                raise TransientError(t("WeCom's upload answer has no media_id"))
            with self.state.lock:
                for old in [k for k, v in cache.items() if now >= v.get("created_at", 0) + MEDIA_TTL]:
                    del cache[old]
                cache[key] = {"media_id": media_id, "created_at": int(now)}
                self.state.save()
            return media_id

    def _read(self, source: str) -> tuple[bytes, str, str]:
        """The bytes, a file name and a stamp that changes when the content may have."""
        if urlsplit(source).scheme in ("http", "https"):
            return self._download(source)
        path = Path(source)
        if not path.is_absolute():
            path = (self.media_dir or Path.cwd()) / path
        try:
            data = path.read_bytes()
            stat = path.stat()
        except FileNotFoundError:
            raise PermanentError(t("media file not found: {path}", path=str(path))) from None
        except OSError as exc:
            raise PermanentError(
                t("cannot read media file {path}: {reason}", path=str(path), reason=exc.strerror or type(exc).__name__)
            ) from None
        return data, path.name, f"{stat.st_mtime_ns}:{stat.st_size}"

    def _download(self, url: str) -> tuple[bytes, str, str]:
        import httpx

        shown = _shown(url)
        try:
            response = httpx.get(url, timeout=self.timeout, follow_redirects=True)
        except httpx.TimeoutException:
            raise TransientError(t("downloading {url} timed out", url=shown)) from None
        except httpx.TransportError as exc:
            raise TransientError(t("cannot download {url}: {reason}", url=shown, reason=type(exc).__name__)) from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientError(t("downloading {url}: HTTP {status}", url=shown, status=response.status_code))
        if response.status_code != 200:
            raise PermanentError(t("downloading {url}: HTTP {status}", url=shown, status=response.status_code))
        if len(response.content) > MAX_DOWNLOAD:
            raise PermanentError(t("{url} is larger than WeCom takes (20 MB)", url=shown))
        name = Path(urlsplit(url).path).name or "media"
        return response.content, name, ""


def _shown(url: str) -> str:
    """A URL without its query string or credentials (they may be signed)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def attachments(parts: Any, channel: str, media: Media, *, fresh: bool = False) -> list[dict[str, Any]]:
    """WeCom attachments for a delivery's rendered parts: mass messages (dm, group) take
    images, a link or a mini-program, videos and files (≤ 9); a Moments post takes up to 9
    images, or one video, or one link."""
    if not parts:
        return []
    images = [str(i) for i in parts.get("images") or []]
    link, miniprogram = parts.get("link"), parts.get("miniprogram")
    video, file = parts.get("video"), parts.get("file")
    title, desc = parts.get("title"), parts.get("desc")
    if channel == "moment":
        if link:  # a Moments link needs its cover's media_id (图片链接封面, 必填: 95094/96351): the content's image
            if len(images) != 1 or video or miniprogram or file:
                raise PermanentError(t("a WeCom Moments link needs a cover: give the content one image (and no "
                                       "video)"))  # fmt: skip
            cover = media.media_id(images[0], "image", moment=True, fresh=fresh)
            return [{"msgtype": "link", "link": {"title": str(title or link), "url": str(link), "media_id": cover}}]
        kinds = [k for k, present in (("image", images), ("video", video)) if present]
        if len(kinds) > 1 or len(images) > 9 or miniprogram or file:
            raise PermanentError(t("a WeCom Moments post carries up to 9 images, or one video, or one link"))
        if images:
            return [{"msgtype": "image", "image": {"media_id": media.media_id(i, "image", moment=True, fresh=fresh)}}
                    for i in images]  # fmt: skip
        if video:
            return [{"msgtype": "video", "video": {"media_id": media.media_id(str(video), "video", moment=True,
                                                                              fresh=fresh)}}]  # fmt: skip
        return []
    out: list[dict[str, Any]] = []
    if miniprogram:
        if not images:
            raise PermanentError(t("a WeCom mini-program message needs a cover: give the content an image"))
        cover = media.media_id(images[0], "image", fresh=fresh)
        out.append({"msgtype": "miniprogram", "miniprogram": {"title": str(title or ""), "pic_media_id": cover,
                                                              "appid": str(miniprogram), "page": str(parts.get("page") or "")}})  # fmt: skip
        images = images[1:]
    out += [{"msgtype": "image", "image": {"media_id": media.media_id(i, "image", fresh=fresh)}} for i in images]
    if link:
        item: dict[str, Any] = {"title": str(title or link), "url": str(link)}
        if desc:
            item["desc"] = str(desc)
        out.append({"msgtype": "link", "link": item})
    if video:
        out.append({"msgtype": "video", "video": {"media_id": media.media_id(str(video), "video", fresh=fresh)}})
    if file:
        out.append({"msgtype": "file", "file": {"media_id": media.media_id(str(file), "file", fresh=fresh)}})
    if len(out) > 9:
        raise PermanentError(t("a WeCom mass message carries at most 9 attachments"))
    return out

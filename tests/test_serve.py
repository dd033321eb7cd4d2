import urllib.error
import urllib.request

import pytest

from browserml.serve import serve


def test_serves_mounted_files_with_wasm_mime(tmp_path):
    (tmp_path / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "index.html").write_text("<p>hi</p>")
    with serve({"/m/": tmp_path}) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{base}/m/a.wasm") as r:
            assert r.headers["Content-Type"] == "application/wasm" and r.read() == b"\0asm"
        with urllib.request.urlopen(f"{base}/m/") as r:
            assert b"hi" in r.read()


@pytest.mark.parametrize("path", ["/m/../secret.txt", "/m/%2e%2e/secret.txt", "/secret.txt", "/m/missing"])
def test_refuses_paths_outside_its_folders(tmp_path, path):
    mounted = tmp_path / "pub"
    mounted.mkdir()
    (tmp_path / "secret.txt").write_text("no")
    with serve({"/m/": mounted}) as base:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path)
        assert err.value.code == 404

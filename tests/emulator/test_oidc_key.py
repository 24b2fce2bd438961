"""The OpenID token key is made once per process, even when requests arrive together."""

from __future__ import annotations

import threading

from rolecall.emulator.cognitoidentity import oidc


def test_threads_arriving_together_get_one_key() -> None:
    oidc._generated_key.cache_clear()  # as in a fresh emulator process
    keys: list[object] = []
    threads = [threading.Thread(target=lambda: keys.append(oidc.oidc_signing_key()))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(key) for key in keys}) == 1

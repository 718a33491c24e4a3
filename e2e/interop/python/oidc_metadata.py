"""Validates the auth server's OpenID Provider metadata with Authlib (Debian's python3-authlib),
for the e2e test TestOpenIDMetadataAuthlib. Prints "ok", or the validation error and exits 1.

    /usr/bin/python3 oidc_metadata.py https://issuer/.well-known/openid-configuration
"""
import json
import sys
import urllib.request

from authlib.oidc.discovery import OpenIDProviderMetadata

with urllib.request.urlopen(sys.argv[1], timeout=10) as resp:
    doc = json.load(resp)
try:
    OpenIDProviderMetadata(doc).validate()
except Exception as e:  # Authlib raises ValueError naming the field
    print(f"authlib: {type(e).__name__}: {e}")
    sys.exit(1)
print("ok")

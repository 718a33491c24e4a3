"""Verifies access tokens (one per line on stdin) against a JWKS URL with PyJWT's
PyJWKClient, as a third-party Python service would (the JWK Set cached, refetched for an
unknown kid). Checks alg, signature, iss, aud, exp, iat and typ "at+jwt" (RFC 9068; PyJWT
does not check typ itself). Prints one line per token: "ok <kid> <sub>" or "fail <reason>".

Usage: python3 verify.py JWKS_URL ISSUER AUDIENCE ALG[,ALG]
"""
import sys

import jwt


def main():
    jwks_url, issuer, audience, algs = sys.argv[1:5]
    client = jwt.PyJWKClient(jwks_url, cache_keys=False)
    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        try:
            key = client.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=algs.split(","), audience=audience,
                                issuer=issuer, options={"require": ["exp", "iat", "sub", "jti"]})
            header = jwt.get_unverified_header(token)  # the signature over it has been verified
            if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
                print("fail", "InvalidTokenType", flush=True)
                continue
            print("ok", header.get("kid"), claims["sub"], flush=True)
        except Exception as e:  # report any failure as a line, never crash
            print("fail", type(e).__name__, flush=True)


if __name__ == "__main__":
    main()

"""Mints one access token per school for the spread benchmark (HS256, the server's claims).

Reads "code client_id user_id" lines on stdin, writes "host token" lines. Logging in 1,000 or
10,000 times would measure argon2, not the traffic; the tokens are the ones login would give.
"""
import base64, hashlib, hmac, json, os, sys, time, uuid

secret = os.environ["JWT_SECRET"].encode()
domain = os.environ.get("MAIN_DOMAIN", "localhost")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


header = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
now = int(time.time())
for line in sys.stdin:
    if not line.strip():
        continue
    code, client_id, user_id = line.split()
    claims = {"sub": user_id, "aud": "schoolyard:school", "iat": now, "exp": now + 6 * 3600,
              "jti": str(uuid.uuid4()), "typ": "access", "fam": str(uuid.uuid4()), "sv": 1,
              "sch": int(client_id), "sa": False}
    body = header + "." + b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    print(f"{code}.{domain} {body}.{sig}")

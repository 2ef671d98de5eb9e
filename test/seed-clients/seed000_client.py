"""
Seed 000 (SocketProgram)'s client, reduced to what its users depend on, with its literal habits:
- one keep-alive TCP connection for the whole session; a JSON body with Content-Length on every
  method (GET and HEAD included);
- every reply is read with recv(4096) until a read returns fewer than 4096 bytes (Content-Length
  is ignored);
- a header line starting with exactly "Set-Cookie:" (case-sensitive) is split on "; " into exactly
  two parts, key=<v> and Max-Age=<n> (anything else raises, as the original does);
- the key is kept in cookies.json and sent back as a "Set-Cookie: key=<v>" request header;
  images land in web_cash/.

Usage: seed000_client.py HOST PORT USERNAME PASSWORD IMAGE_NAME WORK_DIR
Prints one JSON line per step; exits non-zero on the errors the original would crash with.
"""
import json
import os
import socket
import sys

host, port, username, password, image, work = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
cookies = {}
jar = os.path.join(work, "cookies.json")
if os.path.exists(jar):  # the key survives between runs, as the original keeps it
    with open(jar) as f:
        cookies.update(json.load(f))
sock = socket.create_connection((host, port), timeout=10)


def request(method, path, body):
    data = json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    if "key" in cookies:
        head += f"Set-Cookie: key={cookies['key']}\r\n"
    sock.sendall((head + "\r\n").encode() + data)
    chunk = sock.recv(4096)
    reply = chunk
    while len(chunk) == 4096:
        chunk = sock.recv(4096)
        reply += chunk
    head, _, payload = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    for line in lines[1:]:
        if line.startswith("Set-Cookie:"):
            value = line.split(": ", 1)[1]
            first, second = value.split("; ")  # ValueError unless exactly two parts
            for part in (first, second):
                name, val = part.split("=", 1)
                cookies[name] = val
    return lines[0], payload


def step(name, status, payload, **extra):
    print(json.dumps({"step": name, "status": status, "body": payload[:200].decode("utf-8", "replace"), **extra}), flush=True)


status, payload = request("POST", "/register", {"username": username, "password": password})
step("register", status, payload)
status, payload = request("POST", "/login", {"username": username, "password": password})
step("login", status, payload)
status, payload = request("PUT", "/privilege", {"username": username})
step("privilege", status, payload)
with open(jar, "w") as f:
    json.dump({"key": cookies["key"]}, f)  # KeyError: 'key' when the cookie was not understood
status, payload = request("HEAD", "/images", {"username": username})
step("check", status, payload)
status, payload = request("GET", "/images", {"url": image})
cache = os.path.join(work, "web_cash")
os.makedirs(cache, exist_ok=True)
with open(os.path.join(cache, os.path.basename(image)), "wb") as f:
    f.write(payload)
step("image", status, b"", saved=len(payload))
sock.close()

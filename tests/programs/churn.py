# churn.py — an allocation-heavy Python workload for python_churn.sh:
# dicts, lists, strings, bytes and a JSON round trip, some 500 MB
# allocated and freed in total.  Prints only deterministic digests, so its
# output is the same under any correct allocator.
import hashlib
import json
import sys


def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


def dict_churn(rounds):
    h = hashlib.sha256()
    for r in range(rounds):
        d = {}
        for i in range(20000):
            d["k%d-%d" % (r, i)] = [i, str(i) * (i % 7), {"x": i * r}]
        for i in range(0, 20000, 3):
            del d["k%d-%d" % (r, i)]
        h.update(str(len(d)).encode())
        h.update(digest(sorted(d.items())[:50]).encode())
    return h.hexdigest()[:16]


def string_churn(rounds):
    total = 0
    parts = []
    for r in range(rounds):
        s = "".join(chr(65 + (i * r) % 26) * (1 + i % 40) for i in range(4000))
        parts.append(s[::-1].upper().replace("A", "aa"))
        total += len(parts[-1])
        if len(parts) > 16:
            parts = parts[8:]
    return total, digest(parts[-1][:1000])


def big_buffers(rounds):
    h = hashlib.sha256()
    for r in range(rounds):
        b = bytearray(((r % 13) + 1) * 1024 * 1024)
        b[:: 4099] = bytes([r % 256]) * len(b[:: 4099])
        h.update(bytes(b[-100:]))
        lst = [bytes([i % 256]) * (i % 3000) for i in range(3000)]
        h.update(str(sum(map(len, lst))).encode())
    return h.hexdigest()[:16]


def json_round_trip(n):
    doc = {
        "items": [
            {"id": i, "name": "item-%d" % i, "tags": ["t%d" % (i % 17)] * 3,
             "score": i / 7.0, "nested": {"a": [i, i + 1], "b": None}}
            for i in range(n)
        ]
    }
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    again = json.dumps(back, sort_keys=True)
    h = hashlib.sha256(again.encode()).hexdigest()[:16]
    return len(text), text == again, h


def main():
    print("dicts", dict_churn(8))
    print("strings", *string_churn(200))
    print("buffers", big_buffers(40))
    print("json", *json_round_trip(40000))
    keys = sorted(str(i * 7919 % 100003) for i in range(300000))
    print("list sort", digest(keys[:20]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

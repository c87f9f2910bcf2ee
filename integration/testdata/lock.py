# Uses redis-py's Lock (its Lua scripts for extend, reacquire and release)
# on an rkv cluster's leader, across a failover: it takes the lock, prints
# "held" and waits for the new leader's address on stdin while the test
# kills the leader, then, connected to the new leader, checks the lock is
# still its own, extends it, releases it and lets a second lock object take
# it. Prints "ok" at the end. A plain client, switched by hand: redis-py's
# cluster client sends SCRIPT LOAD to every node CLUSTER SLOTS lists, and
# rkv lists a dead replica there until its cluster view reports health.
import sys

from redis import Redis
from redis.exceptions import LockError, LockNotOwnedError


def connect(addr):
    host, port = addr.rsplit(":", 1)
    return Redis(host=host, port=int(port), decode_responses=True, socket_timeout=3)


rc = connect(sys.argv[1])
name = "pylock"

lock = rc.lock(name, timeout=30, blocking=False)
other = rc.lock(name, timeout=30, blocking=False)
assert lock.acquire(), "first acquire failed"
assert not other.acquire(), "a second lock object acquired a held lock"
assert lock.owned() and not other.owned() and lock.locked()
assert lock.extend(30), "extend failed"
ttl = rc.pttl(name)
assert 30000 < ttl <= 60000, f"pttl after extend by 30s: {ttl}"
try:
    other.release()
    raise AssertionError("a lock that was never acquired released")
except LockError:
    pass
print("held", flush=True)

rc.close()
rc = connect(sys.stdin.readline().strip())
lock.redis = other.redis = rc

assert lock.owned(), "the lock was lost in the failover"
assert not other.acquire(), "a second lock object acquired a held lock after the failover"
assert lock.extend(5, replace_ttl=True), "extend with replace_ttl failed"
ttl = rc.pttl(name)
assert 0 < ttl <= 5000, f"pttl after replace_ttl extend to 5s: {ttl}"
assert lock.reacquire(), "reacquire failed"
ttl = rc.pttl(name)
assert 5000 < ttl <= 30000, f"pttl after reacquire: {ttl}"
lock.release()
assert not lock.locked(), "the key is still there after release"
assert other.acquire(), "the second lock object could not take the released lock"
assert other.owned() and not lock.owned()

# Someone else's value under the key: the scripts must refuse to extend,
# reacquire or delete it.
rc.set(name, "intruder")
for what, call in (("extend", lambda: other.extend(5)), ("reacquire", other.reacquire), ("release", other.release)):
    try:
        call()
        raise AssertionError(f"{what} of a lock no longer owned succeeded")
    except LockNotOwnedError:
        pass
assert rc.get(name) == "intruder", "a lock's scripts changed another owner's key"
rc.close()
print("ok", flush=True)

# Drives an rkv cluster with redis-py's RedisCluster, started from the node
# given on the command line (the test passes a follower, so the client must
# discover the leader from CLUSTER SLOTS and follow MOVED).
import sys

from redis.cluster import RedisCluster

host, port = sys.argv[1], int(sys.argv[2])
rc = RedisCluster(host=host, port=port, decode_responses=True)
n = 25
for i in range(n):
    assert rc.set(f"py:{i}", f"value-{i}") is True
for i in range(n):
    got = rc.get(f"py:{i}")
    assert got == f"value-{i}", (i, got)
for i in range(n):
    rc.incr(f"py:counter:{i % 5}")
counters = [int(rc.get(f"py:counter:{j}")) for j in range(5)]
assert counters == [5] * 5, counters
assert rc.get("py:missing") is None
rc.close()
print(f"ok {n} {sum(counters)}")

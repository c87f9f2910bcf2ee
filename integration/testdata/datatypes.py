# Uses each rkv data type the way applications do, through redis-py, against
# the node given on the command line (the leader).
import sys

import redis

r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), decode_responses=True)

# A hash as a record.
r.hset("py:user:1", mapping={"name": "Grace", "lang": "COBOL", "logins": 0})
for _ in range(3):
    r.hincrby("py:user:1", "logins", 1)
user = r.hgetall("py:user:1")
assert user == {"name": "Grace", "lang": "COBOL", "logins": "3"}, user

# A list as a queue: first in, first out.
r.rpush("py:queue", *[f"job{i}" for i in range(20)])
done = []
while (job := r.lpop("py:queue")) is not None:
    done.append(job)
assert done == [f"job{i}" for i in range(20)], done
assert r.exists("py:queue") == 0

# A set of tags.
r.sadd("py:tags:a", "go", "raft", "redis")
r.sadd("py:tags:b", "redis", "python")
assert r.sinter("py:tags:a", "py:tags:b") == {"redis"}
assert r.scard("py:tags:a") == 3

# A sorted set as a leaderboard.
r.zadd("py:board", {"ann": 10, "bob": 30, "cid": 20})
r.zincrby("py:board", 25, "ann")
assert r.zrevrange("py:board", 0, 1, withscores=True) == [("ann", 35.0), ("bob", 30.0)]
assert r.zrank("py:board", "cid") == 0

# A stream as an event log.
ids = [r.xadd("py:events", {"seq": str(i)}) for i in range(10)]
events = r.xrange("py:events", min="-", max="+")
assert [e[0] for e in events] == ids and events[3][1] == {"seq": "3"}, events
assert r.xlen("py:events") == 10

# A transaction: WATCH, then MULTI/EXEC through a pipeline.
r.set("py:balance", 100)
with r.pipeline() as p:
    p.watch("py:balance")
    bal = int(p.get("py:balance"))
    p.multi()
    p.set("py:balance", bal - 30)
    p.incr("py:tx-count")
    assert p.execute() == [True, 1]
assert r.get("py:balance") == "70"

print("ok")

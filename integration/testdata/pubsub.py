# Subscribes to a channel with redis-py's PubSub and prints each message's
# data on a line of its own, after "ready" once the subscription is
# confirmed; it stops after the message "end". Usage: pubsub.py HOST PORT CHANNEL
import sys

import redis

host, port, channel = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p = redis.Redis(host=host, port=port).pubsub()
p.subscribe(channel)
while True:
    m = p.get_message(timeout=10)
    if m is None:
        sys.exit("no subscribe confirmation")
    if m["type"] == "subscribe":
        break
print("ready", flush=True)
for m in p.listen():
    if m["type"] != "message":
        continue
    data = m["data"].decode()
    print(data, flush=True)
    if data == "end":
        break

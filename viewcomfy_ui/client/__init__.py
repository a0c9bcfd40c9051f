"""The parts of the ViewComfy client, one job each; `viewcomfy_ui.api` puts them together.

http      - one connection pool, the keys, retries, error replies (shared by both protocols)
blocks    - big bodies in memory maps, given back to the OS piece by piece
events    - a Server-Sent-Events parser on bytes (huge `data:` lines kept in blocks)
result    - a prompt result from its bytes, big base64 outputs decoded as they are read
params    - which params are files, and their multipart parts
sse       - the direct protocol: POST the endpoint, JSON or Server-Sent Events back
realtime  - today's gateway: socket.io events, submit / results / cancel
urls      - origins, and which hosts an output link may point at
storage   - downloading output links (no keys, streamed to a sink)
types     - shared names, and `RunRequest`: one run as either protocol sends it
interrupt - Ctrl-C for the blocking client: the run is cancelled, then KeyboardInterrupt
"""

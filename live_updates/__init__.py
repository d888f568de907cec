"""Live delivery: card updates from a change notice to every open screen.

The path of one change, per process: the broker's notice reaches the
microgrid's one follower (``card_followers``), which reads the card once
(``domain.live.follow_card``) and has it presented once, as the schema's update
object (``card_payloads``). Subscribers that sent the same document and
variables share one execution and one JSON encoding of it
(``shared_executions``, run by the schema's executor subclass in
``executor``), and the follower writes each waiting subscriber's ``next``
frame to its socket in one pass (``card_frames``). The graphql-transport-ws
handler subclass (``ws_handler``) lets a subscription's task be found by its
frames.

``schema`` never imports this package: the composition root (``app``) builds
the schema with :class:`live_updates.executor.LiveExecutor` and the view with
:class:`live_updates.ws_handler.LiveOperationsHandler`."""

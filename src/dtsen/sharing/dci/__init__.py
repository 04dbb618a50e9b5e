"""The DCI (Digital Convergence Initiative) interoperability APIs: the Social Registry search over the
served registry for approved agencies, and the CRVS notify/subscribe exchange with Dukcapil.

* :mod:`.errors`: the spec's error and reason codes, and :class:`~.errors.DciError`.
* :mod:`.envelope`: the signed ``{signature, header, message}`` envelope, our key, replay refusal.
* :mod:`.spec`: the vendored spec and validation of bodies against its schemas.
* :mod:`.outbox`: every push we make (callbacks, notifies), delivered with bounded retries.
* :mod:`.onboarding`: a client's envelope keys, callback URIs and the access request it reads under.
* :mod:`.transactions`: async searches and txn/status, from ACK to callback.
"""

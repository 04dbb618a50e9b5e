"""The DCI (Digital Convergence Initiative) interoperability APIs: the Social Registry search over the
served registry for approved agencies, and the CRVS notify/subscribe exchange with Dukcapil.

* :mod:`.errors`: the spec's error and reason codes, and :class:`~.errors.DciError`.
* :mod:`.envelope`: the signed ``{signature, header, message}`` envelope, our key, replay refusal.
* :mod:`.spec`: the vendored spec and validation of bodies against its schemas.
* :mod:`.outbox`: every push we make (callbacks, notifies), delivered with bounded retries.
* :mod:`.onboarding`: a client's envelope keys, callback URIs and the access request it reads under.
* :mod:`.grant`: what a client may see (the approved access request linked to it).
* :mod:`.protocol`: the Social Registry endpoints' logic: admit a message, answer at once or ACK.
* :mod:`.criteria`, :mod:`.search`, :mod:`.search_queries`, :mod:`.records`: one search, from the
  request's criteria to the records of the answer.
* :mod:`.background`: pending async searches answered, the outbox pushed (callbacks, notifies).
* :mod:`.txn_status`: what became of a client's earlier search transaction.
* :mod:`.subscriptions`, :mod:`.subscription_push`: agencies' subscriptions and the changes pushed to
  them after each publish.
* :mod:`.crvs`, :mod:`.crvs_client`, :mod:`.crvs_inbox`: Dukcapil's vital events, our subscription to
  them and the events as the rest of DTSEN reads them.
* :mod:`.bench`, :mod:`.bench_agency`, :mod:`.bench_load`: ``dtsen bench dci``.
"""

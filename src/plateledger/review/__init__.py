"""Oversight on Plateledger's own audit log: the oversight rules run live (:mod:`~plateledger.review.live`, in a
background job of ``plateledger serve``) and on demand; their flags stored, explained by the agency's case register
(:mod:`~plateledger.review.register`) or an alert, and reviewed by its auditors (:mod:`~plateledger.review.queue`);
the sensitive places the rules watch (:mod:`~plateledger.review.places`). docs/oversight.md."""

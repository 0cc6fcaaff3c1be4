"""Oversight: rules that read search records and raise flags that explain themselves (docs/oversight.md).

A :class:`~plateledger.oversight.records.SearchRecord` is one search, built from a Plateledger audit entry or from
a row of another vendor's audit export. Each rule is a small state fed one record at a time
(:mod:`plateledger.oversight.rules`); run over a whole period (:func:`~plateledger.oversight.engine.analyse`) or
as entries are appended (:class:`~plateledger.oversight.engine.Monitor`), it is the same code. A rule never
refuses anything: its :class:`~plateledger.oversight.flags.Flag` goes to review, with the evidence (the records,
the numbers, the threshold) and one plain sentence.
"""

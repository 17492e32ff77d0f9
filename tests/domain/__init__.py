"""Tests of the domain: the aggregates, the posting rules, the vocabulary and the messages, in memory."""

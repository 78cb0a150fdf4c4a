"""The sans-IO core: the journal machine, the effects a step asks of the store and how an attempt
ends (`effects`), the retry decision (`retry`), and the pure values around them (ids, durations)."""

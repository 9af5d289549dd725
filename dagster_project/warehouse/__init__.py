"""The warehouse as storage: connections that wait for a run, the run lock, the decision log and
queue tables, the BI copy, and the bookkeeping of what was built."""

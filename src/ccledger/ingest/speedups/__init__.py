"""What makes a large refresh faster and nothing else: take any of it away and the ledger
written is the same.

- ``spawn``: whether a refresh is worth a second process (enough bytes, a CPU to spare) and
  how one is started;
- ``helper``: that process, ``python -m ccledger.ingest.speedups.helper``: it reads its share
  of the files and computes rollup rows, and writes nothing;
- ``helper_client``: this side of the pipe, which hands out plans, claims back the ones the
  helper has not reached, and writes what comes back;
- ``headstart``: the helper started by the console script before the rest of the CLI is
  imported, so that it reads while this process imports;
- ``gcpause``: the cyclic garbage collector paused while millions of small rows go by.
"""
